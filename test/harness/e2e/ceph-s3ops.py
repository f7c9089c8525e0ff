"""S3 operations for the Ceph e2e suite, run with Debian's /usr/bin/python3 and its boto3.

Credentials and endpoint come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
S3_ENDPOINT), the MFA value "SERIAL PIN" from $HWTOTP_MFA when set (as `hwtotp s3` hands it over):
never from argv. Prints one JSON line; exit 0 on success, 3 when S3 refused the request.
"""
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# No retries: a retried request would replay its MFA pin, which RGW refuses.
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    region_name="us-east-1",
    config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
)
mfa = os.environ.get("HWTOTP_MFA")
extra = {"MFA": mfa} if mfa else {}


def main(op, args):
    if op == "setup":
        (bucket,) = args
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return {}
    if op == "put":
        bucket, key, n = args
        return {"versions": [s3.put_object(Bucket=bucket, Key=key, Body=b"v%d" % i)["VersionId"] for i in range(int(n))]}
    if op == "enable-mfa-delete":
        (bucket,) = args
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}, **extra)
        return {}
    if op == "versioning":
        (bucket,) = args
        v = s3.get_bucket_versioning(Bucket=bucket)
        return {"status": v.get("Status"), "mfaDelete": v.get("MFADelete")}
    if op == "delete-version":
        bucket, key, vid = args
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid, **extra)
        return {}
    if op == "delete-versions":
        bucket, key = args[:2]
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": v} for v in args[2:]]}, **extra)
        return {"deleted": len(r.get("Deleted", [])), "errors": [e.get("Code") for e in r.get("Errors", [])]}
    if op == "versions":
        bucket, key = args
        r = s3.list_object_versions(Bucket=bucket, Prefix=key)
        return {"versions": [v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key]}
    raise SystemExit("unknown op " + op)


try:
    print(json.dumps({"ok": True, **main(sys.argv[1], sys.argv[2:])}))
except ClientError as e:
    err = e.response.get("Error", {})
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    print(json.dumps({"ok": False, "code": err.get("Code"), "status": status}))
    sys.exit(3)
