"""Times MLflow's own Python client (MlflowClient) against one tracking server; run by
scripts/benchmark_mlflow.py with the Python of its MLflow virtual environment, once per
server, so that both get the same client and the same calls.

    <mlflow venv>/bin/python scripts/mlflow_client_calls.py --uri http://127.0.0.1:PORT
        --name MODEL --versions 400 --calls 200 --clients 8 --first 0 --seconds 9

The token, if any, comes from MLFLOW_TRACKING_TOKEN, as the client reads it. Prints one
JSON object: latencies (seconds), errors, elapsed.
"""

import argparse
import json
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--versions", type=int, required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=9)
    args = parser.parse_args()

    from mlflow import MlflowClient

    def calls(client, n):
        return [
            lambda: client.get_model_version(args.name, str(n % args.versions + 1)),
            lambda: client.get_model_version_by_alias(args.name, "champion"),
            lambda: client.search_model_versions(f"name='{args.name}'", max_results=100),
            lambda: client.get_registered_model(args.name),
        ][n % 4]

    lock = threading.Lock()
    state = {"sent": 0}
    latencies, errors = [], []
    clients = [MlflowClient(tracking_uri=args.uri, registry_uri=args.uri)
               for _ in range(args.clients)]
    for client in clients:  # the first call of each sets up its session
        client.get_registered_model(args.name)
    barrier = threading.Barrier(args.clients + 1)

    def worker(client):
        barrier.wait()
        while True:
            with lock:
                if state["sent"] >= args.calls or time.monotonic() > deadline:
                    return
                number = args.first + state["sent"]
                state["sent"] += 1
            started = time.perf_counter()
            try:
                calls(client, number)()
            except Exception as exc:  # noqa: BLE001 (counted and reported)
                with lock:
                    errors.append(repr(exc)[:200])
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + args.seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    print(json.dumps({"latencies": latencies, "errors": errors,
                      "elapsed": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
