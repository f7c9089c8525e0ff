// The tests' reference for the codes a device shows: RFC 6238 by otpauth, for a key as bytes and a Unix time.
import * as OTPAuth from "otpauth";

export function totp(key: Buffer, t: number, alg = "SHA1", digits = 6, period = 30): string {
  const secret = OTPAuth.Secret.fromHex(key.toString("hex"));
  return OTPAuth.TOTP.generate({ secret, algorithm: alg, digits, period, timestamp: t * 1000 });
}
