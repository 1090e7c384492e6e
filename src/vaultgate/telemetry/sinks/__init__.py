"""Audit sinks: file, stdout, Splunk HEC, syslog and HTTPS webhooks."""
