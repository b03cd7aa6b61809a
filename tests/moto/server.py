"""moto's server, with S3 answers framed the way S3 frames them where moto 5.2 does not.

moto serializes some S3 answers under an `<Operation>Response` root element. Real S3 uses the
payload's own element (`<VersioningConfiguration>` for GetBucketVersioning), and the AWS SDK for
Rust checks the root, so it cannot read moto's answer at all. This launcher renames those roots
and changes nothing else: the content is moto's own. Arguments are moto.server's.
"""

import sys

from moto.core import serialize
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

if __name__ == "__main__":
    sys.exit(main())
