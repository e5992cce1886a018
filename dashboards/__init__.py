"""Grafana side of chiso766: provisioning files for the ClickHouse data source (docker-compose.yml)."""
