// OpenStack Keystone integration: REST client, clouds.yaml, enrolment, token cache (see ./*.ts).
export * from "./client.ts";
export * from "./clouds.ts";
export * from "./enroll.ts";
export * from "./token-cache.ts";
