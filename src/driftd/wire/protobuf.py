"""Protobuf payloads (google.protobuf, imported only here): descriptors from the registry
(a serialized FileDescriptorProto where the registry gives one, else its ``.proto`` text
and the texts it imports, compiled by grpcio-tools' bundled protoc) or from a file, and
messages turned into JSON-like objects.

What becomes what: messages and maps are dicts (map keys as strings), repeated fields
lists, enums their value's name (an unknown number stays a number), numbers stay numbers
(int64 an int, not a string as ``json_format`` writes it), bytes base64 text. Keys are
the field names as written in the ``.proto``. A field without presence (a proto3 scalar)
is always there, with its default when not sent; a field with presence (a message,
``optional``, a oneof member) only when set, else missing. Well-known types:
Timestamp and Duration are seconds as a float, wrappers their value, Struct, Value and
ListValue the JSON they hold.
"""

from __future__ import annotations

import base64
import binascii
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import grpc_tools
from google.protobuf import (
    any_pb2,
    api_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    message_factory,
    source_context_pb2,
    struct_pb2,
    timestamp_pb2,
    type_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from driftd.wire.framing import FrameError
from driftd.wire.registry import Reference, RegistryError
from driftd.wire.schemas import Fetch, UnusableSchema

MAX_REFERENCES = 100
PROTOC_TIMEOUT_SECONDS = 30.0
_WELL_KNOWN = {module.DESCRIPTOR.name: module for module in (
    any_pb2, api_pb2, descriptor_pb2, duration_pb2, empty_pb2, field_mask_pb2,
    source_context_pb2, struct_pb2, timestamp_pb2, type_pb2, wrappers_pb2)}

Convert = Callable[[Any], Any]


class ProtobufSchema:
    """The messages of one schema (a file and what it imports), each decoded by the
    message indexes of a frame (or always as ``message`` when one is named)."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto], main: str,
                 message: str | None = None) -> None:
        self._pool = descriptor_pool.DescriptorPool()
        by_name = {f.name: f for f in files}
        for file in files:
            self._add(file, by_name, set())
        self._main = by_name[main]
        self._decoders: dict[tuple[int, ...], ProtobufDecoder] = {}
        self._plans: dict[str, Convert] = {}
        self._fixed = self._decoder_of(self._resolve_name(message)) if message else None

    def _add(self, file: descriptor_pb2.FileDescriptorProto,
             by_name: Mapping[str, descriptor_pb2.FileDescriptorProto], adding: set[str]) -> None:
        try:
            self._pool.FindFileByName(file.name)
            return
        except KeyError:
            pass
        adding.add(file.name)
        for dependency in file.dependency:
            if dependency in adding:
                raise UnusableSchema(f"import cycle through {dependency}")
            if dependency in by_name:
                self._add(by_name[dependency], by_name, adding)
            elif dependency in _WELL_KNOWN:
                known = descriptor_pb2.FileDescriptorProto()
                _WELL_KNOWN[dependency].DESCRIPTOR.CopyToProto(known)
                self._add(known, by_name, adding)
            else:
                raise UnusableSchema(f"{file.name} imports {dependency}, which is not given")
        try:
            self._pool.Add(file)
        except Exception as error:  # TypeError, KeyError: a descriptor that does not build
            raise UnusableSchema(f"{file.name}: {error}") from None

    def decoder(self, indexes: tuple[int, ...]) -> ProtobufDecoder:
        """The decoder of the message at ``indexes`` (``(0,)``: the file's first)."""
        if self._fixed is not None:
            return self._fixed
        decoder = self._decoders.get(indexes)
        if decoder is None:
            decoder = self._decoders[indexes] = self._decoder_of(self._name_at(indexes))
        return decoder

    def _name_at(self, indexes: tuple[int, ...]) -> str:
        messages, names = self._main.message_type, [self._main.package] if self._main.package \
            else []
        for depth, index in enumerate(indexes):
            if index >= len(messages):
                where = "the file" if depth == 0 else ".".join(names)
                raise FrameError(f"message index {list(indexes)}: {where} has "
                                 f"{len(messages)} messages")
            names.append(messages[index].name)
            messages = messages[index].nested_type
        return ".".join(names)

    def _resolve_name(self, name: str) -> str:
        package = self._main.package
        for candidate in (f"{package}.{name}" if package else name, name):
            try:
                self._pool.FindMessageTypeByName(candidate)
                return candidate
            except KeyError:
                continue
        defined = [m.name for m in self._main.message_type]
        raise UnusableSchema(f"no message {name} in {self._main.name} (it defines "
                             f"{', '.join(defined) or 'none'})")

    def _decoder_of(self, full_name: str) -> ProtobufDecoder:
        descriptor = self._pool.FindMessageTypeByName(full_name)
        return ProtobufDecoder(message_factory.GetMessageClass(descriptor),
                               _converter(descriptor, self._plans))

    def messages(self) -> list[str]:
        """The top-level messages of the schema's file, in order."""
        return [m.name for m in self._main.message_type]


class ProtobufDecoder:
    """Decodes the payloads of one message type."""

    def __init__(self, message_class: type[Message], convert: Convert) -> None:
        self._parse, self._convert = message_class.FromString, convert

    def decode(self, payload: bytes) -> Any:
        """The message of ``payload`` as a dict; raises ValueError when it does not
        decode."""
        try:
            message = self._parse(payload)
        except DecodeError as error:
            raise ValueError(f"not a Protobuf message of this type: {error}") from None
        return self._convert(message)


# -- messages to JSON-like objects --------------------------------------------------------

def _converter(descriptor: Descriptor, plans: dict[str, Convert]) -> Convert:
    """A function turning a message of ``descriptor`` into a dict, made once per type
    (``plans`` holds them; a recursive type refers to itself through it)."""
    known = plans.get(descriptor.full_name)
    if known is not None:
        return known
    special = _well_known_converter(descriptor, plans)
    if special is not None:
        plans[descriptor.full_name] = special
        return special
    fields: list[tuple[str, bool, Convert | None]] = []

    def convert(message: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, presence, value in fields:
            if presence and not message.HasField(name):
                continue
            item = getattr(message, name)
            out[name] = item if value is None else value(item)
        return out

    plans[descriptor.full_name] = convert
    for field in descriptor.fields:
        fields.append((field.name, field.has_presence, _field_converter(field, plans)))
    return convert


def _field_converter(field: FieldDescriptor, plans: dict[str, Convert]) -> Convert | None:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        value = _value_converter(message_type.fields_by_name["value"], plans)
        if value is None:
            return lambda items: {str(k): v for k, v in items.items()}
        return lambda items: {str(k): value(v) for k, v in items.items()}
    single = _value_converter(field, plans)
    if _repeated(field):
        if single is None:
            return list
        return lambda items: [single(item) for item in items]
    return single


def _repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; label before
    if repeated is None:
        return bool(field.label == FieldDescriptor.LABEL_REPEATED)
    return bool(repeated)


def _value_converter(field: FieldDescriptor, plans: dict[str, Convert]) -> Convert | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE or field.type == FieldDescriptor.TYPE_GROUP:
        return _converter(field.message_type, plans)
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = {v.number: v.name for v in field.enum_type.values}
        return lambda number: names.get(number, number)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _base64
    return None


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _seconds(message: Any) -> float:
    return float(message.seconds + message.nanos / 1e9)


def _well_known_converter(descriptor: Descriptor, plans: dict[str, Convert]
                          ) -> Convert | None:
    name = descriptor.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return _seconds
    if name.startswith("google.protobuf.") and name.endswith("Value") \
            and name not in ("google.protobuf.Value", "google.protobuf.ListValue"):
        if name == "google.protobuf.BytesValue":
            return lambda message: _base64(message.value)
        return lambda message: message.value  # DoubleValue, Int64Value, StringValue...
    if name == "google.protobuf.Struct":
        return lambda message: {k: _json_value(v) for k, v in message.fields.items()}
    if name == "google.protobuf.Value":
        return _json_value
    if name == "google.protobuf.ListValue":
        return lambda message: [_json_value(v) for v in message.values]
    return None


def _json_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _json_value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_json_value(v) for v in value.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


# -- schemas from the registry or files -----------------------------------------------------

def compile_registered(schema_id: int, fetch: Fetch) -> ProtobufSchema:
    """The schema registered under ``schema_id``: serialized descriptors when the
    registry gives them (``format=serialized``), else its text compiled with protoc."""
    try:
        registered = fetch.by_id(schema_id, "serialized")
    except RegistryError:  # this registry does not know the format: ask for the text
        registered = fetch.by_id(schema_id)
    if registered.schema_type != "PROTOBUF":
        raise UnusableSchema(f"a {registered.schema_type} schema, the topic's format is "
                             "protobuf")
    main = _serialized(registered.text)
    if main is not None:
        files = _serialized_references(registered.references, fetch)
        if files is not None:
            main.name = main.name or f"schema_{schema_id}.proto"
            return ProtobufSchema([*files, main], main.name)
        registered = fetch.by_id(schema_id)  # references came as text: all as text
    texts: dict[str, str] = {}
    _text_references(registered.references, fetch, texts)
    name = f"schema_{schema_id}.proto"
    texts[name] = registered.text
    return ProtobufSchema(compile_proto(texts, name), name)


def _serialized(text: str) -> descriptor_pb2.FileDescriptorProto | None:
    try:
        data = base64.b64decode(text, validate=True)
        return descriptor_pb2.FileDescriptorProto.FromString(data)
    except (binascii.Error, ValueError, DecodeError):
        return None  # .proto text (a registry that ignores format=serialized)


def _serialized_references(references: tuple[Reference, ...], fetch: Fetch
                           ) -> list[descriptor_pb2.FileDescriptorProto] | None:
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = list(references)
    while pending:
        reference = pending.pop()
        if reference.name in files or reference.name in _WELL_KNOWN:
            continue
        if len(files) >= MAX_REFERENCES:
            raise UnusableSchema(f"more than {MAX_REFERENCES} referenced schemas")
        registered = fetch.by_reference(reference, "serialized")
        file = _serialized(registered.text)
        if file is None:
            return None
        file.name = reference.name  # the name it is imported by
        files[reference.name] = file
        pending.extend(registered.references)
    return list(files.values())


def _text_references(references: tuple[Reference, ...], fetch: Fetch,
                     texts: dict[str, str]) -> None:
    pending = list(references)
    while pending:
        reference = pending.pop()
        if reference.name in texts or reference.name in _WELL_KNOWN:
            continue
        if len(texts) >= MAX_REFERENCES:
            raise UnusableSchema(f"more than {MAX_REFERENCES} referenced schemas")
        registered = fetch.by_reference(reference)
        texts[reference.name] = registered.text
        pending.extend(registered.references)


def load_file(path: Path, message: str | None = None) -> ProtobufSchema:
    """The schema of a ``.proto`` file (its imports found beside it), decoding every
    message as ``message`` when one is named; raises UnusableSchema."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnusableSchema(f"cannot read {path}: {error}") from None
    if not text.strip():
        raise UnusableSchema(f"{path} is empty")
    files = compile_proto({}, path.name, include=path.parent)
    return ProtobufSchema(files, path.name, message)


def compile_proto(texts: Mapping[str, str], main: str, include: Path | None = None
                  ) -> list[descriptor_pb2.FileDescriptorProto]:
    """``main`` and every file it imports as descriptors, compiled by protoc (the
    well-known types come with grpcio-tools); raises UnusableSchema with protoc's
    message."""
    well_known = Path(next(iter(grpc_tools.__path__))) / "_proto"
    with tempfile.TemporaryDirectory(prefix="driftd-proto-") as directory:
        root = Path(directory)
        (root / "src").mkdir()
        for name, text in texts.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise UnusableSchema(f"an import name outside the schema tree: {name!r}")
            target = root / "src" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        out = root / "set.pb"
        args = [sys.executable, "-m", "grpc_tools.protoc", f"-I{root / 'src'}",
                *([f"-I{include.resolve()}"] if include is not None else []), f"-I{well_known}",
                "--include_imports", f"--descriptor_set_out={out}", main]
        try:
            done = subprocess.run(args, capture_output=True, timeout=PROTOC_TIMEOUT_SECONDS,
                                  check=False, cwd=root)
        except subprocess.TimeoutExpired:
            raise UnusableSchema(f"protoc took over {PROTOC_TIMEOUT_SECONDS:g} s") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().replace(str(root), "")
            raise UnusableSchema(f"protoc: {message[:300] or f'exit {done.returncode}'}")
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return list(descriptors.file)
