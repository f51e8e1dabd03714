{{/* Chart name, overridable with nameOverride. It is also the app.kubernetes.io/name label and, through the ServiceMonitor jobLabel, the Prometheus job label. */}}
{{- define "lde.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name. */}}
{{- define "lde.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lde.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lde.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lde.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lde.labels" -}}
helm.sh/chart: {{ include "lde.chart" . }}
{{ include "lde.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lde.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lde.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lde.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Name of the ConfigMap holding config.yaml. */}}
{{- define "lde.configMapName" -}}
{{- if .Values.existingConfigMap }}
{{- .Values.existingConfigMap }}
{{- else }}
{{- include "lde.fullname" . }}
{{- end }}
{{- end }}

{{/* Fails rendering when the chart would start an exporter with nothing to poll. */}}
{{- define "lde.validate" -}}
{{- if and (not .Values.existingConfigMap) (empty .Values.config.functions) (empty .Values.config.discovery) }}
{{- fail "config.functions or config.discovery must have at least one entry (or set existingConfigMap to a ConfigMap with a config.yaml key)" }}
{{- end }}
{{- end }}
