// Timing of the 30 s TOTP step for tests that count codes.

/**
 * Waits, if need be, until the current 30 s step has `minLeft` seconds or more left. A code with under 1 s
 * left is not sent: the keystoneauth plugin waits for the next step and asks again (device.py MIN_LEFT_S), so
 * a case counting the codes one login asks for starts here to count exactly one.
 */
export async function awayFromStepEnd(minLeft = 8): Promise<void> {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < minLeft) await new Promise((ok) => setTimeout(ok, left * 1000 + 200));
}
