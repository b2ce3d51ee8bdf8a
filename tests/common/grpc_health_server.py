"""A gRPC server for the tests of grpc:// targets (grpcio + grpcio-health-checking).

    python3 grpc_health_server.py PORT [--tls CERT KEY] [--no-health] [--deny]

Serves grpc.health.v1.Health on 127.0.0.1:PORT (TLS with CERT and KEY when asked),
or no health service at all (--no-health: every call is UNIMPLEMENTED), or refuses
every call with UNAUTHENTICATED (--deny). Prints "listening" once it listens, then
reads commands on stdin, one per line, answering "ok" to each:

    set SERVICE STATUS    SERVICE ("" for the server) becomes SERVING, NOT_SERVING, ...
    clear SERVICE         SERVICE is not registered (Check answers NOT_FOUND)

and stops when stdin closes.
"""

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


class Deny(grpc.ServerInterceptor):
    def intercept_service(self, continuation, details):
        def abort(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no credentials")

        return grpc.unary_unary_rpc_method_handler(abort)


def main():
    port = int(sys.argv[1])
    args = sys.argv[2:]
    interceptors = [Deny()] if "--deny" in args else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors)
    servicer = health.HealthServicer()
    if "--no-health" not in args:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"127.0.0.1:{port}"
    if "--tls" in args:
        i = args.index("--tls")
        with open(args[i + 1], "rb") as f:
            cert = f.read()
        with open(args[i + 2], "rb") as f:
            key = f.read()
        server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    else:
        server.add_insecure_port(address)
    server.start()
    print("listening", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words and words[0] == "set":
            service = "" if words[1] == '""' else words[1]
            status = health_pb2.HealthCheckResponse.ServingStatus.Value(words[2])
            servicer.set(service, status)
        elif words and words[0] == "clear":
            service = "" if words[1] == '""' else words[1]
            # The servicer has no public "forget": drop the service from its table.
            with servicer._lock:
                servicer._server_status.pop(service, None)
        print("ok", flush=True)
    server.stop(0)


if __name__ == "__main__":
    main()
