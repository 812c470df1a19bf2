"""The command line: `aifactory <noun> <verb>`, over HTTP or in process on the local data dir."""
