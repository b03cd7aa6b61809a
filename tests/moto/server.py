"""moto's server, with S3 answers framed the way S3 frames them where moto 5.2 does not, and
S3's conditional writes atomic as they are in S3.

moto serializes some S3 answers under an `<Operation>Response` root element. Real S3 uses the
payload's own element (`<VersioningConfiguration>` for GetBucketVersioning), and the AWS SDK for
Rust checks the root, so it cannot read moto's answer at all. This launcher renames those roots.

moto checks `If-None-Match`/`If-Match` and then writes, in a threaded server, so two racing
conditional writes of one key can both pass the check. S3 decides them atomically (one wins, the
other gets 412). This launcher runs moto's PutObject and DeleteObject one at a time, so its
conditional writes decide as S3's do. The content of every answer is moto's own. Arguments are
moto.server's.
"""

import sys
import threading

from moto.core import serialize
from moto.s3.responses import S3Response
from moto.server import main

# Operation -> the root element S3 answers with.
ROOTS = {"GetBucketVersioning": "VersioningConfiguration"}

_serialize = serialize.S3Serializer._serialized_result_to_response


def _framed(self, resp, result, shape, serialized_result):
    resp = _serialize(self, resp, result, shape, serialized_result)
    name = self.operation_model.name
    body = resp.get("body")
    if name in ROOTS and isinstance(body, bytes):
        body = body.decode()
    if name in ROOTS and isinstance(body, str):
        wrong, right = f"{name}Response", ROOTS[name]
        resp["body"] = body.replace(f"<{wrong}", f"<{right}").replace(f"</{wrong}>", f"</{right}>")
    return resp


serialize.S3Serializer._serialized_result_to_response = _framed

_object_writes = threading.Lock()


def _one_at_a_time(method):
    def run(self, *args, **kwargs):
        with _object_writes:
            return method(self, *args, **kwargs)

    return run


S3Response.put_object = _one_at_a_time(S3Response.put_object)
S3Response.delete_object = _one_at_a_time(S3Response.delete_object)

if __name__ == "__main__":
    sys.exit(main())
