"""Open Inference Protocol (KServe V2) and KServe V1 payloads: tensors (``tensors``),
requests and responses (``payload``, ``protobuf``), pairing by request id (``pairing``)
and the row objects a pair becomes (``rows``). Nothing here knows Kafka or HTTP."""
