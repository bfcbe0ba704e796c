#!/usr/bin/python3
"""A Python gRPC client of mcrd that knows nothing of its API but what server reflection serves
(test/e2e/reflection-clients.test.ts runs it). Debian's python3-grpcio and python3-protobuf, hence
/usr/bin/python3: a Python of another origin does not see Debian's packages.

Reads a plan (JSON) on stdin:

  {"socket": "/path/mcr.sock",
   "calls": [{"method": "mcr.v1.SystemService/GetVersion", "body": {...}, "timeout": 5, "maxMessages": 2}],
   "describe": ["mcr.v1.Rule"],
   "symbols": ["google.rpc.Status"]}

and writes one JSON object on stdout:

  {"services": [...], "files": [...], "messageClasses": N,
   "calls": [{"method", "streaming", "code", "details", "messages": [...], "statusDetails": [...]}],
   "describe": {"mcr.v1.Rule": {"fields": [{"name", "jsonName", "type", "map"}]}}}

What it does is what a strict client does: list the services, fetch the file declaring each (with its
imports) by ServerReflectionInfo, add every file's bytes as served to a descriptor_pool.DescriptorPool
(which checks map entries, names and dependencies), build a message class for every message type with
message_factory, and call methods with requests parsed from JSON. The reflection messages themselves
come from a FileDescriptorProto written here, so that nothing is taken from the server on trust.

"symbols" are fetched too (with their files' imports): given google.rpc.Status and
google.rpc.BadRequest, a failed call's `grpc-status-details-bin` trailer is decoded into
"statusDetails": [{"type": "google.rpc.BadRequest", "value": {...}}], with types from reflection only.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REFLECTION_METHOD = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'
FIELD = descriptor_pb2.FieldDescriptorProto


def message_classes(pool, names):
    """A class for each full message name, built by message_factory (its API differs across versions)."""
    if hasattr(message_factory, 'GetMessageClass'):
        return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name)) for name in names}
    factory = message_factory.MessageFactory(pool)
    return {name: factory.GetPrototype(pool.FindMessageTypeByName(name)) for name in names}


def reflection_messages():
    """ServerReflectionRequest and ServerReflectionResponse, from grpc/reflection/v1/reflection.proto (the fields used here)."""
    file = descriptor_pb2.FileDescriptorProto(name='bootstrap/reflection.proto', package='grpc.reflection.v1', syntax='proto3')

    def message(name, fields, oneof=None):
        """A message; with `oneof`, every field but the first belongs to that oneof (so an empty string is sent)."""
        m = file.message_type.add(name=name)
        if oneof:
            m.oneof_decl.add(name=oneof)
        for i, (field_name, number, kind, type_name, repeated) in enumerate(fields):
            f = m.field.add(name=field_name, number=number, type=kind,
                            label=FIELD.LABEL_REPEATED if repeated else FIELD.LABEL_OPTIONAL)
            if type_name:
                f.type_name = type_name
            if oneof and i > 0:
                f.oneof_index = 0

    message('ServerReflectionRequest', [
        ('host', 1, FIELD.TYPE_STRING, None, False),
        ('file_by_filename', 3, FIELD.TYPE_STRING, None, False),
        ('file_containing_symbol', 4, FIELD.TYPE_STRING, None, False),
        ('list_services', 7, FIELD.TYPE_STRING, None, False),
    ], oneof='message_request')
    message('FileDescriptorResponse', [('file_descriptor_proto', 1, FIELD.TYPE_BYTES, None, True)])
    message('ServiceResponse', [('name', 1, FIELD.TYPE_STRING, None, False)])
    message('ListServiceResponse', [('service', 1, FIELD.TYPE_MESSAGE, '.grpc.reflection.v1.ServiceResponse', True)])
    message('ErrorResponse', [
        ('error_code', 1, FIELD.TYPE_INT32, None, False),
        ('error_message', 2, FIELD.TYPE_STRING, None, False),
    ])
    message('ServerReflectionResponse', [
        ('file_descriptor_response', 4, FIELD.TYPE_MESSAGE, '.grpc.reflection.v1.FileDescriptorResponse', False),
        ('list_services_response', 6, FIELD.TYPE_MESSAGE, '.grpc.reflection.v1.ListServiceResponse', False),
        ('error_response', 7, FIELD.TYPE_MESSAGE, '.grpc.reflection.v1.ErrorResponse', False),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    classes = message_classes(pool, ['grpc.reflection.v1.ServerReflectionRequest', 'grpc.reflection.v1.ServerReflectionResponse'])
    return classes['grpc.reflection.v1.ServerReflectionRequest'], classes['grpc.reflection.v1.ServerReflectionResponse']


class Reflection:
    def __init__(self, channel):
        self.request, response = reflection_messages()
        self.info = channel.stream_stream(REFLECTION_METHOD, request_serializer=lambda m: m.SerializeToString(),
                                          response_deserializer=response.FromString)

    def ask(self, **question):
        responses = list(self.info(iter([self.request(**question)]), timeout=10))
        if len(responses) != 1:
            raise RuntimeError(f'reflection answered {question} with {len(responses)} messages')
        response = responses[0]
        if response.HasField('error_response'):
            raise RuntimeError(f'reflection answered {question} with error {response.error_response.error_code}: '
                               f'{response.error_response.error_message}')
        return response

    def services(self):
        return [s.name for s in self.ask(list_services='').list_services_response.service]

    def files(self, **question):
        return list(self.ask(**question).file_descriptor_response.file_descriptor_proto)


def load_schema(reflection, symbols=()):
    """Every served file, added to a descriptor pool as served; returns the pool, the services, the files in order added."""
    services = reflection.services()
    served = {}  # name -> (bytes, FileDescriptorProto)

    def take(encoded):
        for data in encoded:
            proto = descriptor_pb2.FileDescriptorProto.FromString(data)
            served.setdefault(proto.name, (data, proto))

    for symbol in [*services, *symbols]:
        take(reflection.files(file_containing_symbol=symbol))
    while True:
        missing = {d for _, proto in served.values() for d in proto.dependency if d not in served}
        if not missing:
            break
        for name in missing:
            take(reflection.files(file_by_filename=name))
    pool = descriptor_pool.DescriptorPool()
    added = []
    while len(added) < len(served):
        ready = [n for n, (_, p) in served.items() if n not in added and all(d in added for d in p.dependency)]
        if not ready:
            raise RuntimeError(f'files whose imports never arrive: {sorted(set(served) - set(added))}')
        for name in sorted(ready):
            pool.AddSerializedFile(served[name][0])
            added.append(name)
    return pool, services, added, [p for _, p in served.values()]


def all_message_names(files):
    names = []

    def walk(scope, messages):
        for m in messages:
            names.append(f'{scope}.{m.name}' if scope else m.name)
            walk(names[-1], m.nested_type)

    for f in files:
        walk(f.package, f.message_type)
    return names


def call(channel, pool, classes, streaming_of, spec):
    service_name, method_name = spec['method'].split('/')
    method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = classes[method.input_type.full_name]
    response_class = classes[method.output_type.full_name]
    request = json_format.ParseDict(spec.get('body', {}), request_class())
    path = f'/{service_name}/{method_name}'
    streaming = streaming_of[spec['method']]
    result = {'method': spec['method'], 'streaming': streaming, 'code': 'OK', 'details': '', 'messages': []}
    kwargs = dict(request_serializer=lambda m: m.SerializeToString(), response_deserializer=response_class.FromString)
    try:
        if streaming:
            stream = channel.unary_stream(path, **kwargs)(request, timeout=spec.get('timeout', 5))
            for response in stream:
                result['messages'].append(json_format.MessageToDict(response))
                if len(result['messages']) >= spec.get('maxMessages', 1):
                    stream.cancel()
                    break
        else:
            response = channel.unary_unary(path, **kwargs)(request, timeout=spec.get('timeout', 5))
            result['messages'].append(json_format.MessageToDict(response))
    except grpc.RpcError as err:
        if not (streaming and err.code() == grpc.StatusCode.CANCELLED and result['messages']):
            result['code'] = err.code().name
            result['details'] = err.details()
            result['statusDetails'] = status_details(classes, err)
    return result


def status_details(classes, err):
    """The details of `err`'s google.rpc.Status trailer, each decoded with its class from reflection."""
    trailer = [v for k, v in (err.trailing_metadata() or ()) if k == 'grpc-status-details-bin']
    if not trailer or 'google.rpc.Status' not in classes:
        return []
    details = []
    for any_detail in classes['google.rpc.Status'].FromString(trailer[0]).details:
        type_name = any_detail.type_url.split('/')[-1]
        value = classes[type_name].FromString(any_detail.value) if type_name in classes else None
        details.append({'type': type_name, 'value': json_format.MessageToDict(value) if value is not None else None})
    return details


def describe(pool, name):
    message = pool.FindMessageTypeByName(name)
    return {'fields': [{
        'name': f.name,
        'jsonName': f.json_name,
        'type': f.message_type.full_name if f.message_type else (f.enum_type.full_name if f.enum_type else f.type),
        'map': bool(f.message_type and f.message_type.GetOptions().map_entry),
    } for f in message.fields]}


def main():
    plan = json.load(sys.stdin)
    with grpc.insecure_channel(f"unix:{plan['socket']}") as channel:
        pool, services, added, files = load_schema(Reflection(channel), plan.get('symbols', []))
        names = all_message_names(files)
        classes = message_classes(pool, names)
        streaming_of = {f'{f.package}.{s.name}/{m.name}': m.server_streaming for f in files for s in f.service for m in s.method}
        out = {
            'services': services,
            'files': added,
            'messageClasses': len(classes),
            'calls': [call(channel, pool, classes, streaming_of, spec) for spec in plan.get('calls', [])],
            'describe': {name: describe(pool, name) for name in plan.get('describe', [])},
        }
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
