"""A gRPC consumer for the compatibility tests: subscribes to TOPIC/CHANNEL on the broker's
gRPC port, finishes every message and prints each body on its own line (flushed)."""
import sys

import grpc

from nsq.v1 import broker_pb2
from nsq.v1 import broker_pb2_grpc


def requests(topic, channel, acks):
    yield broker_pb2.SubscribeRequest(subscribe=broker_pb2.SubscribeRequest.Subscribe(topic=topic, channel=channel))
    yield broker_pb2.SubscribeRequest(ready=broker_pb2.SubscribeRequest.Ready(count=50))
    while True:
        ids = acks.get()
        if ids is None:
            return
        yield broker_pb2.SubscribeRequest(finish=broker_pb2.SubscribeRequest.Finish(ids=ids))


def main():
    import queue
    port, topic, channel = sys.argv[1], sys.argv[2], sys.argv[3]
    stub = broker_pb2_grpc.BrokerStub(grpc.insecure_channel("127.0.0.1:" + port))
    acks = queue.Queue()
    for response in stub.Subscribe(requests(topic, channel, acks)):
        if response.subscribed:
            print("SUBSCRIBED", flush=True)
        if response.messages:
            ids = []
            for m in response.messages:
                print(m.body.decode(), flush=True)
                ids.append(m.id)
            acks.put(ids)


if __name__ == "__main__":
    main()
