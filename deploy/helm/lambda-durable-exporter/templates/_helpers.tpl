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

{{/* The exporter configuration (config.yaml) as YAML: config, where empty functions and discovery
lists mean one discovery entry without keys, which lists every durable function in config.region (else
the SDK's region, e.g. AWS_REGION from IRSA). */}}
{{- define "lde.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if include "lde.discoverAll" . }}
{{- $_ := set $config "discovery" (list (dict)) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* "true" when the chart's config discovers every durable function (functions and discovery empty). */}}
{{- define "lde.discoverAll" -}}
{{- if and (not .Values.existingConfigMap) (empty .Values.config.functions) (empty .Values.config.discovery) }}true{{ end }}
{{- end }}

{{- define "lde.validate" -}}
{{- if and .Values.webConfig.existingSecret (not (empty .Values.webConfig.content)) }}
{{- fail "webConfig.existingSecret and webConfig.content are exclusive: the web config comes from your Secret or from the chart's" }}
{{- end }}
{{- if and (not (include "lde.webConfig.enabled" .)) (or .Values.webConfig.tls .Values.webConfig.basicAuth .Values.webConfig.tlsSecret) }}
{{- fail "webConfig.tls, webConfig.basicAuth and webConfig.tlsSecret need a web config: set webConfig.content or webConfig.existingSecret" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (include "lde.webConfig.basicAuth" .) (not .Values.serviceMonitor.basicAuth.secretName) }}
{{- fail "the web config turns basic auth on: set serviceMonitor.basicAuth.secretName to a Secret with Prometheus' username and password, or Prometheus cannot scrape the exporter" }}
{{- end }}
{{- if and .Values.sharding.enabled (gt (len (include "lde.fullname" .)) 52) }}
{{- fail (printf "sharding.enabled: the StatefulSet name %q is longer than 52 characters (its pods' controller-revision-hash label would exceed 63): shorten it with fullnameOverride" (include "lde.fullname" .)) }}
{{- end }}
{{- if and .Values.persistence.enabled .Values.sharding.enabled .Values.persistence.existingClaim }}
{{- fail "persistence.existingClaim cannot be used with sharding.enabled: every shard needs a volume of its own, which the StatefulSet's volumeClaimTemplates create (unset persistence.existingClaim)" }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.sharding.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "persistence.enabled: the Deployment's replicas would share one checkpoint directory; keep replicaCount at 1, or use sharding.enabled (one volume per shard)" }}
{{- end }}
{{- range .Values.extraArgs }}
{{- if and $.Values.persistence.enabled (hasPrefix "--storage.path" (toString .)) }}
{{- fail "extraArgs has --storage.path, but persistence.enabled already sets it to persistence.mountPath: use one or the other" }}
{{- end }}
{{- if and $.Values.sharding.enabled (hasPrefix "--shard." (toString .)) }}
{{- fail (printf "extraArgs has %s, but sharding.enabled sets the shard flags itself (--shard.total=sharding.shards --shard.auto)" .) }}
{{- end }}
{{- if and (include "lde.webConfig.enabled" $) (hasPrefix "--web.config.file" (toString .)) }}
{{- fail "extraArgs has --web.config.file, but webConfig already sets it: use one or the other" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the headless Service that governs the StatefulSet (sharding.enabled): it gives every shard a stable DNS name. */}}
{{- define "lde.headlessServiceName" -}}
{{- printf "%s-headless" (include "lde.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Whether the exporter serves a web config (webConfig.existingSecret or webConfig.content): "true" or "". */}}
{{- define "lde.webConfig.enabled" -}}
{{- if or .Values.webConfig.existingSecret (not (empty .Values.webConfig.content)) }}true{{- end }}
{{- end }}

{{/* The inline web config (webConfig.content, a map or a YAML string) as YAML text. */}}
{{- define "lde.webConfig.content" -}}
{{- if kindIs "string" .Values.webConfig.content }}
{{- .Values.webConfig.content }}
{{- else }}
{{- toYaml .Values.webConfig.content }}
{{- end }}
{{- end }}

{{/* Whether the web config turns TLS on: webConfig.tls, or a tls_server_config key in webConfig.content. "true" or "". */}}
{{- define "lde.webConfig.tls" -}}
{{- if .Values.webConfig.tls }}true
{{- else if and (include "lde.webConfig.enabled" .) (not .Values.webConfig.existingSecret) (regexMatch "(?m)^tls_server_config:" (include "lde.webConfig.content" .)) }}true
{{- end }}
{{- end }}

{{/* Whether the web config turns basic auth on: webConfig.basicAuth, or a basic_auth_users key in webConfig.content. "true" or "". */}}
{{- define "lde.webConfig.basicAuth" -}}
{{- if .Values.webConfig.basicAuth }}true
{{- else if and (include "lde.webConfig.enabled" .) (not .Values.webConfig.existingSecret) (regexMatch "(?m)^basic_auth_users:" (include "lde.webConfig.content" .)) }}true
{{- end }}
{{- end }}

{{/* Name of the Secret holding web-config.yml. */}}
{{- define "lde.webConfig.secretName" -}}
{{- if .Values.webConfig.existingSecret }}
{{- .Values.webConfig.existingSecret }}
{{- else }}
{{- printf "%s-web-config" (include "lde.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The handler of both probes. With basic auth on and no probes.httpHeaders, the kubelet cannot
authenticate (an HTTP probe would get 401 and restart the pod forever): the probes only check that
the port accepts connections. Otherwise GET the path, over HTTPS when the web config turns TLS on
(the kubelet does not verify the certificate), with probes.httpHeaders.
*/}}
{{- define "lde.probeHandler" -}}
{{- $root := index . 0 }}
{{- $path := index . 1 }}
{{- if and (include "lde.webConfig.basicAuth" $root) (empty $root.Values.probes.httpHeaders) }}
tcpSocket:
  port: http-metrics
{{- else }}
httpGet:
  path: {{ $path }}
  port: http-metrics
  scheme: {{ if include "lde.webConfig.tls" $root }}HTTPS{{ else }}HTTP{{ end }}
  {{- with $root.Values.probes.httpHeaders }}
  httpHeaders:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Name of the PersistentVolumeClaim the Deployment mounts with persistence.enabled: persistence.existingClaim or the chart's. */}}
{{- define "lde.persistence.claimName" -}}
{{- if .Values.persistence.existingClaim }}
{{- .Values.persistence.existingClaim }}
{{- else }}
{{- printf "%s-storage" (include "lde.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The spec of the chart's PersistentVolumeClaim and of the StatefulSet's volumeClaimTemplates. */}}
{{- define "lde.persistence.claimSpec" -}}
accessModes:
  {{- toYaml .Values.persistence.accessModes | nindent 2 }}
{{- with .Values.persistence.storageClassName }}
storageClassName: {{ . | quote }}
{{- end }}
resources:
  requests:
    storage: {{ .Values.persistence.size | quote }}
{{- end }}

{{/*
The pod security context: podSecurityContext, plus fsGroup 65532 (the image's nonroot group) with
persistence.enabled when podSecurityContext sets no fsGroup, so that the exporter can write the volume.
*/}}
{{- define "lde.podSecurityContext" -}}
{{- $psc := deepCopy (default (dict) .Values.podSecurityContext) }}
{{- if and .Values.persistence.enabled (not (hasKey $psc "fsGroup")) }}
{{- $_ := set $psc "fsGroup" 65532 }}
{{- end }}
{{- toYaml $psc }}
{{- end }}

{{/*
The pod template (metadata and spec) shared by the Deployment and, with sharding.enabled, the
StatefulSet. A sharded replica gets --shard.total and --shard.auto, which reads its index from the
ordinal of its pod name (env POD_NAME).
*/}}
{{- define "lde.podTemplate" -}}
metadata:
  labels:
    {{- include "lde.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if .Values.existingConfigMap }}
    checksum/config: {{ .Values.existingConfigMap | sha256sum }}
    {{- else }}
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "lde.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- include "lde.podSecurityContext" . | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "lde.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      # The image ENTRYPOINT already passes --config.file=/etc/lambda-durable-exporter/config.yaml.
      args:
        - --web.listen-address=:9897
        - --web.telemetry-path=/metrics
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- if include "lde.webConfig.enabled" . }}
        - --web.config.file=/etc/lambda-durable-exporter/web/web-config.yml
        {{- end }}
        {{- if .Values.persistence.enabled }}
        - --storage.path={{ .Values.persistence.mountPath }}
        {{- end }}
        {{- if .Values.sharding.enabled }}
        - --shard.total={{ .Values.sharding.shards }}
        - --shard.auto
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if or .Values.sharding.enabled .Values.extraEnv (include "lde.goMemLimit" .) }}
      env:
        {{- with include "lde.goMemLimit" . }}
        # goMemLimitRatio of resources.limits.memory: near the limit the Go runtime collects harder
        # instead of the container being OOM-killed.
        - name: GOMEMLIMIT
          value: {{ . | quote }}
        {{- end }}
        {{- if .Values.sharding.enabled }}
        # --shard.auto takes the shard index from the pod name's ordinal (<statefulset>-<ordinal>).
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http-metrics
          containerPort: 9897
          protocol: TCP
      livenessProbe:
        {{- include "lde.probeHandler" (list . "/-/healthy") | trim | nindent 8 }}
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        {{- include "lde.probeHandler" (list . "/-/ready") | trim | nindent 8 }}
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/lambda-durable-exporter
          readOnly: true
        {{- if include "lde.webConfig.enabled" . }}
        # Nested in the config volume's mount point (Kubernetes creates the mount point).
        - name: web-config
          mountPath: /etc/lambda-durable-exporter/web
          readOnly: true
        {{- end }}
        {{- if .Values.persistence.enabled }}
        # Checkpoints (--storage.path): the Deployment's PersistentVolumeClaim, or this shard's
        # claim from the StatefulSet's volumeClaimTemplates.
        - name: storage
          mountPath: {{ .Values.persistence.mountPath }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "lde.configMapName" . }}
        items:
          - key: config.yaml
            path: config.yaml
    {{- if include "lde.webConfig.enabled" . }}
    # web-config.yml (and, with webConfig.existingSecret, every other key of that Secret),
    # plus tls/tls.crt and tls/tls.key from webConfig.tlsSecret.
    - name: web-config
      projected:
        sources:
          - secret:
              name: {{ include "lde.webConfig.secretName" . }}
              {{- if not .Values.webConfig.existingSecret }}
              items:
                - key: web-config.yml
                  path: web-config.yml
              {{- end }}
          {{- with .Values.webConfig.tlsSecret }}
          - secret:
              name: {{ . }}
              items:
                - key: tls.crt
                  path: tls/tls.crt
                - key: tls.key
                  path: tls/tls.key
          {{- end }}
    {{- end }}
    {{- if and .Values.persistence.enabled (not .Values.sharding.enabled) }}
    - name: storage
      persistentVolumeClaim:
        claimName: {{ include "lde.persistence.claimName" . }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
lde.goMemLimit: goMemLimitRatio of resources.limits.memory, in bytes, for GOMEMLIMIT; empty when
either is unset or zero. The limit must be a plain quantity: a number with an optional k, M, G,
T, Ki, Mi, Gi or Ti.
*/}}
{{- define "lde.goMemLimit" -}}
{{- $limit := "" -}}
{{- with .Values.resources -}}{{- with .limits -}}{{- with .memory -}}{{- $limit = toString . -}}{{- end -}}{{- end -}}{{- end -}}
{{- $ratio := float64 (.Values.goMemLimitRatio | default 0) -}}
{{- if and $limit (gt $ratio 0.0) -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $limit -}}
{{- $unit := trimPrefix $number $limit -}}
{{- if or (not $number) (not (hasKey $units $unit)) -}}
{{- fail (printf "resources.limits.memory %q: goMemLimitRatio needs a plain quantity (a number with an optional k, M, G, T, Ki, Mi, Gi or Ti); set goMemLimitRatio=0 to leave GOMEMLIMIT unset" $limit) -}}
{{- end -}}
{{- printf "%.0f" (floor (mulf (float64 $number) (float64 (get $units $unit)) $ratio)) -}}
{{- end -}}
{{- end }}
