// The two ways the emulated interpreter stops a program that no catch in it resumes.

/** Raised out of program code when the variable cap is exceeded; not catchable by the program in spirit. */
export class OutOfMemory extends Error {
  constructor() {
    super("Out of Memory!");
  }
}

/**
 * The interpreter read garbage (a compaction moved code it was running from memory-mapped flash): raised out of
 * the Storage call that compacted, and out of every API call until the task ends; the device then runs nothing
 * more until reset.
 */
export class DeviceFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceFault";
  }
}
