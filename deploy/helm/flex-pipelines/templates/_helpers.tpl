{{/* Name of the release's objects: the release name, cut to leave room for a component suffix. */}}
{{- define "flexpipe.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "flexpipe.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "flexpipe.selector" (list . "webserver") */}}
{{- define "flexpipe.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "flexpipe.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* DAGSTER_HOME: a writable emptyDir (dagster-celery writes its worker config there) with
dagster.yaml from the instance ConfigMap, which is also mounted read-only at flexpipe.instanceDir. */}}
{{- define "flexpipe.home" -}}/opt/dagster/home{{- end -}}
{{- define "flexpipe.instanceDir" -}}/opt/dagster/instance{{- end -}}

{{- define "flexpipe.brokerUrl" -}}
{{- if .Values.celery.broker -}}{{ .Values.celery.broker }}
{{- else if .Values.redis.enabled -}}redis://{{ include "flexpipe.fullname" . }}-redis:6379/0
{{- end -}}
{{- end -}}

{{- define "flexpipe.backendUrl" -}}
{{- if .Values.celery.backend -}}{{ .Values.celery.backend }}
{{- else if .Values.redis.enabled -}}redis://{{ include "flexpipe.fullname" . }}-redis:6379/1
{{- end -}}
{{- end -}}

{{/* Environment of every FlexPipelines container: instance, store, broker, settings. */}}
{{- define "flexpipe.env" -}}
- name: DAGSTER_HOME
  value: {{ include "flexpipe.home" . }}
- name: DAGSTER_PG_HOST
  value: {{ .Values.instance.postgres.host | quote }}
- name: DAGSTER_PG_PORT
  value: {{ .Values.instance.postgres.port | quote }}
- name: DAGSTER_PG_DB
  value: {{ .Values.instance.postgres.database | quote }}
- name: DAGSTER_PG_USERNAME
  value: {{ .Values.instance.postgres.username | quote }}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.instance.postgres.passwordSecret.name }}
      key: {{ .Values.instance.postgres.passwordSecret.key }}
- name: FLEXPIPE_DB_URL
  value: {{ .Values.store.url | quote }}
{{- with .Values.store.passwordSecret }}
{{- if .name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- with include "flexpipe.brokerUrl" . }}
- name: FLEXPIPE_CELERY_BROKER
  value: {{ . | quote }}
{{- end }}
{{- with include "flexpipe.backendUrl" . }}
- name: FLEXPIPE_CELERY_BACKEND
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.settings }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
# the root filesystem is read-only: caches (matplotlib, …) go to the /tmp volume
- name: HOME
  value: /tmp
- name: MPLCONFIGDIR
  value: /tmp/matplotlib
{{- end -}}

{{- define "flexpipe.envFrom" -}}
{{- if .Values.extraEnvSecret }}
envFrom:
  - secretRef:
      name: {{ .Values.extraEnvSecret }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by the FlexPipelines pods. */}}
{{- define "flexpipe.podSpec" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: instance
    configMap:
      name: {{ include "flexpipe.fullname" . }}-instance
  - name: home
    emptyDir: {}
  - name: tmp
    emptyDir: {}
{{- end -}}

{{- define "flexpipe.containerBase" -}}
image: {{ include "flexpipe.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
volumeMounts:
  - name: instance
    mountPath: {{ include "flexpipe.instanceDir" . }}
    readOnly: true
  - name: home
    mountPath: {{ include "flexpipe.home" . }}
  - name: instance
    mountPath: {{ include "flexpipe.home" . }}/dagster.yaml
    subPath: dagster.yaml
    readOnly: true
  - name: tmp
    mountPath: /tmp
{{- include "flexpipe.envFrom" . }}
{{- end -}}
