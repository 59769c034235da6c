"""Writes a FileDescriptorSet holding the listed Envoy API files and their transitive imports.

xds-protos ships Envoy's API as generated Python modules, each carrying its file's
serialized FileDescriptorProto; this reads those bytes (no .proto sources are needed).
Usage: python descriptor_set.py LIST_FILE OUT_SET OUT_NAMES
  OUT_SET   the FileDescriptorSet, imports before the files that use them
  OUT_NAMES the closure's file names, one a line, sorted, without google/protobuf/*
"""
import importlib
import sys

from google.protobuf import descriptor_pb2


def module_for(proto_path):
    return importlib.import_module(proto_path[: -len(".proto")].replace("/", ".") + "_pb2")


def main(list_file, out_set, out_names):
    wanted = []
    for line in open(list_file, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            wanted.append(line)

    ordered = []
    seen = set()

    def visit(path):
        if path in seen:
            return
        seen.add(path)
        proto = descriptor_pb2.FileDescriptorProto.FromString(module_for(path).DESCRIPTOR.serialized_pb)
        if proto.name != path:
            sys.exit(f"descriptor for {path} names itself {proto.name}")
        for dep in proto.dependency:
            visit(dep)
        ordered.append(proto)

    for path in wanted:
        visit(path)

    file_set = descriptor_pb2.FileDescriptorSet()
    file_set.file.extend(ordered)
    with open(out_set, "wb") as out:
        out.write(file_set.SerializeToString(deterministic=True))
    names = sorted(p.name for p in ordered if not p.name.startswith("google/protobuf/"))
    with open(out_names, "w", encoding="utf-8") as out:
        out.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
