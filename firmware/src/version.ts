// Firmware version, reported by hello as "fw". The host compares it with the version it was built with.
export const FW_VERSION = "0.1.0";
