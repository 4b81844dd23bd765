"""The notification template ``hallkpi``: a title and a message, in Chinese and English,
used by every contact point (``{{ template "hallkpi.title" . }}``)."""

from __future__ import annotations

NAME = "hallkpi"
TITLE = '{{ template "hallkpi.title" . }}'
MESSAGE = '{{ template "hallkpi.message" . }}'

TEMPLATE = """\
{{ define "hallkpi.title" -}}
[{{ if eq .Status "firing" }}告警 FIRING:{{ .Alerts.Firing | len }}{{ else }}恢复 RESOLVED{{ end }}]
{{- with .CommonLabels.severity }} {{ . }}{{ end }} hallkpi {{ .CommonLabels.engine_rule }}
{{- with .CommonLabels.hall }} · {{ . }}{{ end }}
{{- end }}

{{ define "hallkpi.alert" -}}
{{ if eq .Status "firing" }}🔴 告警{{ else }}🟢 恢复{{ end }}
{{- " " }}{{ .Labels.hall }} · {{ .Labels.engine_rule }}
{{ with .Annotations.summary_zh }}{{ . }}{{ end }}
{{ with .Annotations.summary }}{{ . }}{{ end }}
开始 Since: {{ .StartsAt.Local.Format "2006-01-02 15:04:05" }}
{{- if eq .Status "resolved" }}
结束 Resolved: {{ .EndsAt.Local.Format "2006-01-02 15:04:05" }}{{ end }}
{{- with .DashboardURL }}
看板 Dashboard: {{ . }}{{ end }}
{{- end }}

{{ define "hallkpi.message" -}}
{{ if .Alerts.Firing }}告警 Firing ({{ .Alerts.Firing | len }}):
{{ range .Alerts.Firing }}{{ template "hallkpi.alert" . }}

{{ end }}{{ end -}}
{{ if .Alerts.Resolved }}恢复 Resolved ({{ .Alerts.Resolved | len }}):
{{ range .Alerts.Resolved }}{{ template "hallkpi.alert" . }}

{{ end }}{{ end -}}
{{- end }}
"""
"""Go text/template source of the ``hallkpi.title`` and ``hallkpi.message`` templates."""
