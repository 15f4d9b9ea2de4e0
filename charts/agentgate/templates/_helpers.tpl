{{- define "agentgate.labels" -}}
app.kubernetes.io/name: agentgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: agentgate
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "agentgate.selector" -}}
app.kubernetes.io/name: agentgate
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- /* repository:tag, or repository@digest when image.digest is set (the tag is then ignored:
       a digest pins the exact image, whatever the tag points at later). */}}
{{- define "agentgate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The webhook's in-cluster Service name; fixed so the webhook configurations agentgate
     writes and this chart agree. */}}
{{- define "agentgate.webhookService" -}}agentgate-webhook{{- end -}}

{{- define "agentgate.podSpecCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
securityContext: {{ toYaml .root.Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: true
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity: {{ toYaml . | nindent 2 }}
{{- end }}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {{ include "agentgate.selector" (dict "root" .root "component" .component) | nindent 8 }}
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {{ include "agentgate.selector" (dict "root" .root "component" .component) | nindent 8 }}
{{- end }}
{{- end -}}

{{- define "agentgate.checkValues" -}}
{{- range .Values.agentRoles }}
{{- if has . (list "cluster-admin" "admin") }}
{{- fail (printf "agentRoles: %q can rewrite RBAC and would let an agent skip agentgate; list narrower roles such as edit or view" .) }}
{{- end }}
{{- end }}
{{- if and (eq .Values.tls.mode "certManager") (not .Values.tls.certManager.issuerRef.name) }}
{{- fail "tls.certManager.issuerRef.name: set the Issuer or ClusterIssuer that signs the webhook certificate, or use tls.mode=auto" }}
{{- end }}
{{- if and (eq .Values.audit.store "pglite") (gt (int .Values.webhook.replicas) 1) }}
{{- fail "audit.store=pglite is single-writer: set webhook.replicas=1, or use audit.store=postgres with audit.postgres.dsnSecret for more replicas" }}
{{- end }}
{{- if and (eq .Values.audit.store "postgres") (not .Values.audit.postgres.dsnSecret.name) }}
{{- fail "audit.postgres.dsnSecret.name: name the Secret holding the PostgreSQL DSN, or use audit.store=pglite" }}
{{- end }}
{{- if .Values.podDisruptionBudget.enabled }}
{{- range $c := list "operator" "webhook" }}
{{- $replicas := int (index $.Values $c).replicas }}
{{- if and (gt $replicas 1) (ge (int $.Values.podDisruptionBudget.minAvailable) $replicas) }}
{{- fail (printf "podDisruptionBudget.minAvailable: %d with %s.replicas %d would block every node drain; set it below the replicas" (int $.Values.podDisruptionBudget.minAvailable) $c $replicas) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.notifications.enabled (not .Values.notifications.secretName) }}
{{- fail "notifications.secretName: name the Secret holding the incoming-webhook URL, or set notifications.enabled=false" }}
{{- end }}
{{- end -}}

{{/* The webhook's cert-manager Certificate as cainjector's inject-ca-from names it (certificate.yaml). */}}
{{- define "agentgate.certificateRef" -}}
{{ printf "%s/agentgate-webhook" .Release.Namespace }}
{{- end -}}
