{{/* The release's name prefix of every object. */}}
{{- define "loginless.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* One process kind of one service: "<fullname>-<service>" for its api (and its Service), "-worker" suffixed. */}}
{{- define "loginless.name" -}}
{{- $base := printf "%s-%s" (include "loginless.fullname" .root) .service -}}
{{- if eq .component "api" -}}{{ $base }}{{- else -}}{{ printf "%s-%s" $base .component }}{{- end -}}
{{- end -}}

{{- define "loginless.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .service }}
loginless.dev/service: {{ . }}
{{- end }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "loginless.labels" -}}
{{ include "loginless.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "loginless.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "loginless.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "loginless.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* A service's settings prefix: GATEWAY_, LINKS_, ... */}}
{{- define "loginless.prefix" -}}
{{ . | upper | replace "-" "_" }}_
{{- end -}}

{{/* The role's settings of a service: its own (services.<name>.<role>) over the chart's defaults (<role>). */}}
{{- define "loginless.roleValues" -}}
{{- $spec := index .root.Values.services .service | default dict -}}
{{- $own := index $spec .component | default dict -}}
{{- toYaml (mustMergeOverwrite (deepCopy (index .root.Values .component)) (deepCopy $own)) -}}
{{- end -}}

{{/* Where the brokers' CA certificate is mounted when kafka.caSecret names it. */}}
{{- define "loginless.kafkaCaFile" -}}
/etc/loginless/kafka-ca/ca.crt
{{- end -}}

{{/* Environment variables read from existing Secrets: the chart's secretEnv (with the Kafka password), then the
service's own (or only the settings named in .only). */}}
{{- define "loginless.secretEnv" -}}
{{- $spec := index .root.Values.services .service | default dict -}}
{{- $prefix := include "loginless.prefix" .service -}}
{{- $chart := deepCopy .root.Values.secretEnv -}}
{{- if hasPrefix "SASL_" .root.Values.kafka.securityProtocol -}}
{{- $_ := set $chart "KAFKA_SASL_PASSWORD" .root.Values.kafka.saslPasswordSecret -}}
{{- end -}}
{{- $all := mustMergeOverwrite $chart (deepCopy ($spec.secretEnv | default dict)) -}}
{{- if .only }}{{ $all = pick $all .only }}{{ end -}}
{{- range $setting := keys $all | sortAlpha }}
{{- $ref := index $all $setting }}
- name: {{ printf "%s%s" $prefix $setting }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secret }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* The restricted Pod Security profile, for pods and for containers. */}}
{{- define "loginless.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "loginless.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* What every pod of the chart shares: service account, security, scheduling, the writable /tmp. A hook's
pod runs before the release's ServiceAccount exists, so it keeps the namespace's default. */}}
{{- define "loginless.podCommon" -}}
{{- if ne .component "migrate" }}
serviceAccountName: {{ include "loginless.serviceAccountName" .root }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- include "loginless.podSecurityContext" . | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .root.Values.tmpSizeLimit }}
  {{- if ne .component "migrate" }}
  {{- range $file := (index $.root.Values.services $.service | default dict).secretFiles | default list }}
  - name: {{ printf "file-%s-%s" $file.secret $file.key | replace "." "-" | trunc 63 }}
    secret:
      secretName: {{ $file.secret }}
      items:
        - {key: {{ $file.key }}, path: {{ $file.key }}}
  {{- end }}
  {{- end }}
  {{- with .root.Values.kafka.caSecret }}
  {{- if ne $.component "migrate" }}
  - name: kafka-ca
    secret:
      secretName: {{ .secret }}
      items:
        - {key: {{ .key }}, path: ca.crt}
  {{- end }}
  {{- end }}
{{- end -}}

{{/* The container's mounts: /tmp, and the Kafka CA for the processes that talk to Kafka. */}}
{{- define "loginless.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if ne .component "migrate" }}
{{- range $file := (index $.root.Values.services $.service | default dict).secretFiles | default list }}
- name: {{ printf "file-%s-%s" $file.secret $file.key | replace "." "-" | trunc 63 }}
  mountPath: {{ printf "/var/run/secrets/loginless/%s" (printf "file-%s-%s" $file.secret $file.key | replace "." "-" | trunc 63) }}
  readOnly: true
{{- end }}
{{- end }}
{{- if and .root.Values.kafka.caSecret (ne .component "migrate") }}
- name: kafka-ca
  mountPath: {{ include "loginless.kafkaCaFile" .root | dir }}
  readOnly: true
{{- end }}
{{- end -}}
