// Types of espruino-facts.mjs (the table itself is plain JS so the build's gate can read it without a compiler).
export declare const GLOBALS: string[];
export declare const BOARD_GLOBALS: string[];
export declare const MISSING_GLOBALS: string[];
export declare const MISSING_MEMBERS: [string, string][];
export declare const PRESENT_MEMBERS: [string, string][];
export declare const STATIC_MEMBERS: Record<string, string[]>;
export declare const MISSING_METHODS: string[];
