"""ClickHouse storage: one small Store interface, a server backend and an embedded (chdb) backend."""
