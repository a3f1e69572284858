"""The bottom layer: the port, its events and snapshots, errors, rate metrics, the text sanitiser,
fork safety and resume keys. The standard library only; no I/O, threads or sockets."""
