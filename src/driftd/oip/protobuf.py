"""KServe V2 (Open Inference Protocol) Protobuf messages, built at run time.

The message classes come from a ``FileDescriptorProto`` written here with the field
numbers of KServe's ``grpc_predict_v2.proto`` (package ``inference``), in a pool of
their own: no generated ``_pb2`` module, no ``protoc``. Only the messages an inference
request and response need are declared; unknown fields are skipped by the parser.

>>> request = ModelInferRequest(model_name="iris", id="r1")
>>> tensor = request.inputs.add(name="x", datatype="FP32", shape=[2])
>>> tensor.contents.fp32_contents.extend([0.5, 2.0])
>>> payload = parse_request(request.SerializeToString())
>>> payload.model, payload.id, payload.rows, payload.values[("inputs", "x")]
('iris', 'r1', 2, [0.5, 2.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from driftd.oip.payload import Payload, PayloadError, from_tensors
from driftd.oip.tensors import CONTENTS, Tensor, TensorError, from_contents, from_raw

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_SCALARS = {"bool": _F.TYPE_BOOL, "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64,
            "uint32": _F.TYPE_UINT32, "uint64": _F.TYPE_UINT64, "float": _F.TYPE_FLOAT,
            "double": _F.TYPE_DOUBLE, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES}
_CONTENT_FIELDS = ("bool_contents", "int_contents", "int64_contents", "uint_contents",
                   "uint64_contents", "fp32_contents", "fp64_contents", "bytes_contents")


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: str,
           *, repeated: bool = False, oneof: int | None = None) -> None:
    field = message.field.add(name=name, number=number,
                              label=_REPEATED if repeated else _OPTIONAL)
    if kind in _SCALARS:
        field.type = _SCALARS[kind]
    else:
        field.type, field.type_name = _F.TYPE_MESSAGE, f".inference.{kind}"
    if oneof is not None:
        field.oneof_index = oneof
    if repeated and kind in _SCALARS and kind not in ("string", "bytes"):
        field.options.packed = True


def _parameters(message: descriptor_pb2.DescriptorProto, number: int, scope: str) -> None:
    """``map<string, InferParameter> parameters = number`` (a map is a repeated entry)."""
    entry = message.nested_type.add(name="ParametersEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, "string")
    _field(entry, "value", 2, "InferParameter")
    _field(message, "parameters", number, f"{scope}.ParametersEntry", repeated=True)


def _tensor(parent: descriptor_pb2.DescriptorProto, name: str, scope: str) -> None:
    tensor = parent.nested_type.add(name=name)
    _field(tensor, "name", 1, "string")
    _field(tensor, "datatype", 2, "string")
    _field(tensor, "shape", 3, "int64", repeated=True)
    _parameters(tensor, 4, f"{scope}.{name}")
    _field(tensor, "contents", 5, "InferTensorContents")


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The messages of ``grpc_predict_v2.proto`` that carry inference payloads."""
    file = descriptor_pb2.FileDescriptorProto(name="driftd/oip/grpc_predict_v2.proto",
                                              package="inference", syntax="proto3")
    parameter = file.message_type.add(name="InferParameter")
    parameter.oneof_decl.add(name="parameter_choice")
    for number, (name, kind) in enumerate([("bool_param", "bool"), ("int64_param", "int64"),
                                           ("string_param", "string"),
                                           ("double_param", "double"),
                                           ("uint64_param", "uint64")], start=1):
        _field(parameter, name, number, kind, oneof=0)
    contents = file.message_type.add(name="InferTensorContents")
    for number, (name, kind) in enumerate(zip(_CONTENT_FIELDS, (
            "bool", "int32", "int64", "uint32", "uint64", "float", "double", "bytes"),
            strict=True), start=1):
        _field(contents, name, number, kind, repeated=True)
    request = file.message_type.add(name="ModelInferRequest")
    _tensor(request, "InferInputTensor", "ModelInferRequest")
    requested = request.nested_type.add(name="InferRequestedOutputTensor")
    _field(requested, "name", 1, "string")
    _parameters(requested, 2, "ModelInferRequest.InferRequestedOutputTensor")
    for number, name in enumerate(("model_name", "model_version", "id"), start=1):
        _field(request, name, number, "string")
    _parameters(request, 4, "ModelInferRequest")
    _field(request, "inputs", 5, "ModelInferRequest.InferInputTensor", repeated=True)
    _field(request, "outputs", 6, "ModelInferRequest.InferRequestedOutputTensor",
           repeated=True)
    _field(request, "raw_input_contents", 7, "bytes", repeated=True)
    response = file.message_type.add(name="ModelInferResponse")
    _tensor(response, "InferOutputTensor", "ModelInferResponse")
    for number, name in enumerate(("model_name", "model_version", "id"), start=1):
        _field(response, name, number, "string")
    _parameters(response, 4, "ModelInferResponse")
    _field(response, "outputs", 5, "ModelInferResponse.InferOutputTensor", repeated=True)
    _field(response, "raw_output_contents", 6, "bytes", repeated=True)
    return file


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(file_descriptor())


def _message_class(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"inference.{name}"))


ModelInferRequest = _message_class("ModelInferRequest")
ModelInferResponse = _message_class("ModelInferResponse")
InferTensorContents = _message_class("InferTensorContents")
InferParameter = _message_class("InferParameter")


def parse_request(raw: bytes) -> Payload:
    """A serialized ``ModelInferRequest`` as a payload of inputs."""
    message = _parse(ModelInferRequest, raw, "ModelInferRequest")
    return _payload(message, "request", message.inputs, message.raw_input_contents)


def parse_response(raw: bytes) -> Payload:
    """A serialized ``ModelInferResponse`` as a payload of outputs."""
    message = _parse(ModelInferResponse, raw, "ModelInferResponse")
    return _payload(message, "response", message.outputs, message.raw_output_contents)


def _parse(cls: Any, raw: bytes, kind: str) -> Any:
    message = cls()
    try:
        message.ParseFromString(_unframed(raw))
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise PayloadError(f"not a {kind}: {str(error)[:120]}") from None
    return message


def _unframed(raw: bytes) -> bytes:
    """The message without a Confluent wire-format frame (Seldon Core 2 writes one when it
    has a schema registry): magic byte 0, a 4-byte schema id, the message-index varints.
    No Protobuf message starts with byte 0 (field number 0 does not exist)."""
    if not raw or raw[0] != 0:
        return raw
    if len(raw) < 6:
        raise PayloadError("a Confluent wire-format frame shorter than its header")
    at, count = _varint(raw, 5)
    for _ in range(_zigzag(count)):
        at, _index = _varint(raw, at)
    return raw[at:]


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(raw) and shift < 64:
        byte = raw[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return at, value
    raise PayloadError("a Confluent wire-format frame with a broken message index")


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _payload(message: Any, role: str, tensors: Sequence[Any], raw: Sequence[bytes]) -> Payload:
    if raw and len(raw) != len(tensors):
        raise PayloadError(f"{len(raw)} raw contents for {len(tensors)} tensors")
    try:
        decoded = [_tensor_of(t, raw[i] if raw else None) for i, t in enumerate(tensors)]
    except TensorError as error:
        raise PayloadError(str(error)) from None
    return from_tensors(role, decoded, model=message.model_name or None,
                        model_version=message.model_version or None, id=message.id or None,
                        parameters=_parameter_values(message.parameters))


def _tensor_of(tensor: Any, raw: bytes | None) -> Tensor:
    if raw is not None:
        return from_raw(tensor.name, tensor.datatype, list(tensor.shape), raw)
    field = CONTENTS.get(tensor.datatype)
    contents = {field: getattr(tensor.contents, field)} if field is not None else {}
    return from_contents(tensor.name, tensor.datatype, list(tensor.shape), contents)


def _parameter_values(parameters: Any) -> dict[str, Any]:
    """``InferParameter`` values as plain ones (the member of the oneof that is set)."""
    found = {}
    for key, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        found[str(key)] = getattr(parameter, choice) if choice else None
    return found
