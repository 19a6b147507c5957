"""Client-side requests for a TF Serving deployment of an exported classifier.

- gRPC (port 8500): `predict_request` builds a `tensorflow_serving.apis.PredictRequest`
  (package `tensorflow-serving-api`, the `serving` extra).
- REST (port 8501): `rest_body` builds the JSON body of `POST /v1/models/NAME:predict` in the
  columnar "inputs" format; encoded files go in as `{"b64": ...}` as the REST API requires for
  binary strings.

Inputs are the signature's named inputs: `{"inputs": floats (B, ...)}` for `serving_default`,
`{"image_bytes": [png, ...]}` / `{"audio_bytes": [wav, ...]}` for `serving_bytes`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

REST_PORT = 8501
GRPC_PORT = 8500


def _is_encoded(value) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(item, bytes) for item in value)


def predict_request(
    inputs: Mapping[str, np.ndarray | Sequence[bytes]],
    model_name: str,
    signature_name: str = "serving_default",
    version: int | None = None,
):
    """A gRPC `PredictRequest` for `model_name` (optionally pinned to `version`).

    Float arrays are sent as float32 tensors, bools as bool, lists of `bytes` as a string
    tensor `(B,)`.
    """
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        if _is_encoded(value):
            proto = tf.make_tensor_proto(list(value), dtype=tf.string, shape=[len(value)])
        else:
            array = np.asarray(value)
            proto = tf.make_tensor_proto(array if array.dtype == bool else array.astype(np.float32))
        request.inputs[name].CopyFrom(proto)
    return request


def rest_body(inputs: Mapping[str, np.ndarray | Sequence[bytes]], signature_name: str = "serving_default") -> dict:
    """The JSON body (as a dict; `json.dumps` it) of a TF Serving REST predict call.

    Example:
        >>> rest_body({"image_bytes": [b"\\x89PNG..."]}, "serving_bytes")["inputs"]
        {'image_bytes': [{'b64': 'iVBORy4uLg=='}]}
    """
    columns = {}
    for name, value in inputs.items():
        if _is_encoded(value):
            columns[name] = [{"b64": base64.b64encode(item).decode("ascii")} for item in value]
        else:
            columns[name] = np.asarray(value).tolist()
    return {"signature_name": signature_name, "inputs": columns}


def rest_url(model_name: str, host: str = "localhost", port: int = REST_PORT, version: int | None = None) -> str:
    """`http://HOST:PORT/v1/models/NAME[/versions/N]:predict`."""
    versioned = f"/versions/{version}" if version is not None else ""
    return f"http://{host}:{port}/v1/models/{model_name}{versioned}:predict"
