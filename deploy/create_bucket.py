"""Create casebinder's evidence bucket if it is not there yet: compose.yaml's one-shot create-bucket service.

Reads the same CASEBINDER_S3_* variables as casebinder, so it makes the bucket casebinder will use, on the server it
will use. S3_OBJECT_LOCK=true makes the bucket with Object Lock (which also turns versioning on), so that a legal
hold placed in casebinder is also held by the object store; it can only be chosen when the bucket is made. Safe to
run again: an existing bucket is left as it is. Exits 0 when the bucket exists, 1 with the reason otherwise.
"""

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TRUE = {"1", "true", "yes", "on"}


def main() -> int:
    env = os.environ
    bucket = env["CASEBINDER_S3_BUCKET"]
    region = env.get("CASEBINDER_S3_REGION") or "us-east-1"
    path_style = env.get("CASEBINDER_S3_PATH_STYLE", "").lower() in TRUE
    s3 = boto3.client(
        "s3",
        endpoint_url=env.get("CASEBINDER_S3_ENDPOINT_URL") or None,
        region_name=region,
        aws_access_key_id=env.get("CASEBINDER_S3_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("CASEBINDER_S3_SECRET_ACCESS_KEY") or None,
        config=Config(s3={"addressing_style": "path" if path_style else "auto"}, retries={"mode": "standard"}),
    )
    create = {"Bucket": bucket, "ObjectLockEnabledForBucket": env.get("S3_OBJECT_LOCK", "").lower() in TRUE}
    if region != "us-east-1":  # the one region S3 refuses to be told about
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    # The server may have answered its health check a moment before its S3 gateway takes requests.
    for attempt in range(10):
        try:
            s3.create_bucket(**create)
            print(f"created the bucket {bucket} (Object Lock: {create['ObjectLockEnabledForBucket']})")
            return 0
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                s3.head_bucket(Bucket=bucket)  # ours, and reachable with these keys, or this raises
                print(f"the bucket {bucket} exists already")
                return 0
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) < 500:
                print(f"could not create the bucket {bucket}: {exc}", file=sys.stderr)  # keys, name: no use retrying
                return 1
            reason = str(exc)
        except BotoCoreError as exc:
            reason = str(exc)
        print(f"could not create the bucket {bucket} (attempt {attempt + 1} of 10): {reason}", file=sys.stderr)
        time.sleep(3)
    return 1


if __name__ == "__main__":
    sys.exit(main())
