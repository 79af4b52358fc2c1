{{/* Names and labels shared by the templates. */}}

{{/* The objects' name: the release's, at most 52 characters (a StatefulSet's pods add -<ordinal>). */}}
{{- define "juno.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* The headless Service that names the pods. */}}
{{- define "juno.peersService" -}}
{{- printf "%s-peers" (include "juno.fullname" .) -}}
{{- end -}}

{{/* The Secret with the API token and the cluster secret. */}}
{{- define "juno.secretName" -}}
{{- default (printf "%s-secrets" (include "juno.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{/* The labels that select the pods; app is the seed's. */}}
{{- define "juno.selectorLabels" -}}
app: {{ include "juno.fullname" . }}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "juno.labels" -}}
{{ include "juno.selectorLabels" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The image reference. */}}
{{- define "juno.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Whether the pods call the Kubernetes API (kubernetes discovery). */}}
{{- define "juno.kubernetesDiscovery" -}}
{{- if eq .Values.discovery.type "kubernetes" }}true{{ end -}}
{{- end -}}

{{/* The Secret holding the pods' certificate, key and CA. */}}
{{- define "juno.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "juno.fullname" .)) .Values.tls.secretName -}}
{{- end -}}
