"""Compiles .proto files with Debian's /usr/bin/protoc and gRPC plugins (offline: no
rules_proto, no @com_google_protobuf)."""

def nsq_proto_library(name, srcs, deps = [], grpc = True, visibility = None):
    """C++ message (+ gRPC service) code for `srcs`, as one cc_library `name`.

    Also defines `<name>_py`: a filegroup of the Python message and gRPC modules,
    for tests in other languages."""
    bases = [s[:-len(".proto")] for s in srcs]
    pkg = native.package_name()
    # Imports are written from the proto/ root ("nsq/v1/message.proto"), as other
    # languages' code generators expect.
    if not pkg.startswith("proto/"):
        fail("nsq_proto_library belongs under proto/")
    rel = pkg[len("proto/"):]
    hdrs = [b + ".pb.h" for b in bases]
    cc = [b + ".pb.cc" for b in bases]
    if grpc:
        hdrs += [b + ".grpc.pb.h" for b in bases]
        cc += [b + ".grpc.pb.cc" for b in bases]
    grpc_flags = "--grpc_out=$(GENDIR)/proto --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin " if grpc else ""
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = hdrs + cc,
        cmd = "/usr/bin/protoc -Iproto --cpp_out=$(GENDIR)/proto " + grpc_flags +
              " ".join(["proto/%s/%s" % (rel, s) for s in srcs]),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    py = [b + "_pb2.py" for b in bases]
    if grpc:
        py += [b + "_pb2_grpc.py" for b in bases]
    py_grpc_flags = "--grpc_python_out=$(GENDIR)/proto --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin " if grpc else ""
    native.genrule(
        name = name + "_py",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = py,
        cmd = "/usr/bin/protoc -Iproto --python_out=$(GENDIR)/proto " + py_grpc_flags +
              " ".join(["proto/%s/%s" % (rel, s) for s in srcs]),
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = cc,
        hdrs = hdrs,
        strip_include_prefix = "/proto",
        deps = deps + ["//third_party/system:grpc", "//third_party/system:protobuf"],
        visibility = visibility,
    )
