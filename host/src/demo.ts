// The demo: placeholder until the emulator lands.
export async function runDemo(_opts: { board: string; qr: boolean }): Promise<number> {
  process.stderr.write("The demo needs the emulator (firmware/emulator), which has not landed yet.\n");
  return 1;
}
