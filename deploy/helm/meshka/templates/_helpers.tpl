{{/* Names and labels shared by every template. */}}

{{- define "meshka.name" -}}meshka{{- end -}}

{{- define "meshka.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "meshka.labels" -}}
app.kubernetes.io/name: meshka
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "meshka.webhook.selector" -}}
app.kubernetes.io/name: meshka
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "meshka.controller.selector" -}}
app.kubernetes.io/name: meshka
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "meshka.webhook.service" -}}{{ .Release.Name }}-webhook{{- end -}}
{{- define "meshka.webhook.secret" -}}{{ .Release.Name }}-webhook-tls{{- end -}}
{{- define "meshka.controller.name" -}}{{ .Release.Name }}-controller{{- end -}}

{{/* Restricted pod and container security contexts. */}}
{{- define "meshka.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "meshka.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}
