{{/*
Expand the name of the chart.
*/}}
{{- define "mscr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
The longest suffix added to it is "-retrain" (the CronJob, whose Jobs add 11 characters of their own),
so the name is cut to 40 characters to keep every derived name within limits.
*/}}
{{- define "mscr.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "mscr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "mscr.labels" -}}
helm.sh/chart: {{ include "mscr.chart" . }}
{{ include "mscr.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mscr
{{- end }}

{{/*
Selector labels
*/}}
{{- define "mscr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mscr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of one component: serving, serving-gpu or retraining.
Usage: include "mscr.componentSelectorLabels" (dict "ctx" $ "component" "serving")
*/}}
{{- define "mscr.componentSelectorLabels" -}}
{{ include "mscr.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Labels of one component's objects.
*/}}
{{- define "mscr.componentLabels" -}}
{{ include "mscr.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "mscr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mscr.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The retraining job's own ServiceAccount: it writes to the store and calls no Kubernetes API.
*/}}
{{- define "mscr.retrainServiceAccountName" -}}
{{- if .Values.retraining.serviceAccount.create }}
{{- default (printf "%s-retrain" (include "mscr.fullname" .)) .Values.retraining.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.retraining.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Whether serving pods mount their ServiceAccount token: serviceAccount.automount when set,
else only when the in-cluster retraining trigger needs it (it creates Jobs).
*/}}
{{- define "mscr.servingAutomount" -}}
{{- if kindIs "bool" .Values.serviceAccount.automount }}
{{- .Values.serviceAccount.automount }}
{{- else }}
{{- and .Values.retraining.enabled .Values.retraining.httpTrigger.enabled }}
{{- end }}
{{- end }}

{{/*
Images: the CPU one, and the GPU one (tag: appVersion + "-gpu" unless set).
*/}}
{{- define "mscr.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "mscr.gpuImage" -}}
{{- printf "%s:%s" .Values.gpu.image.repository (.Values.gpu.image.tag | default (printf "%s-gpu" .Chart.AppVersion)) }}
{{- end }}

{{/*
Names of derived objects.
*/}}
{{- define "mscr.gpuName" -}}
{{- printf "%s-gpu" (include "mscr.fullname" .) }}
{{- end }}

{{- define "mscr.retrainName" -}}
{{- printf "%s-retrain" (include "mscr.fullname" .) }}
{{- end }}

{{- define "mscr.storeClaimName" -}}
{{- .Values.store.persistence.existingClaim | default (printf "%s-store" (include "mscr.fullname" .)) }}
{{- end }}

{{/*
Whether the CPU serving Deployment is rendered ("true" or "").
*/}}
{{- define "mscr.cpuServing" -}}
{{- if or (not .Values.gpu.serving.enabled) .Values.gpu.serving.keepCpuServing }}true{{- end }}
{{- end }}

{{/*
The Service that Ingress, HTTPRoute, NOTES and the helm test use: the CPU one, or the GPU one
when GPU serving replaces it.
*/}}
{{- define "mscr.primaryServiceName" -}}
{{- if include "mscr.cpuServing" . }}{{ include "mscr.fullname" . }}{{ else }}{{ include "mscr.gpuName" . }}{{ end }}
{{- end }}

{{/*
The store scheme: file, s3 or gs.
*/}}
{{- define "mscr.storeScheme" -}}
{{- regexFind "^[a-z0-9]+" .Values.store.uri }}
{{- end }}

{{/*
Checks that cut across values, with messages that say what to change. values.schema.json
checks each value on its own.
*/}}
{{- define "mscr.validate" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- $needed := add (int .Values.preStopSleepSeconds) (ceil .Values.config.drainTimeout | int) }}
{{- if le $grace $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + config.drainTimeout (%d), or SIGKILL cuts the drain short" $grace $needed) }}
{{- end }}
{{- if eq (include "mscr.storeScheme" .) "file" }}
{{- $mount := trimSuffix "/" .Values.store.persistence.mountPath }}
{{- $path := trimPrefix "file://" .Values.store.uri }}
{{- if not (hasPrefix (printf "%s/" $mount) (printf "%s/" $path)) }}
{{- fail (printf "store.uri %s must lie below store.persistence.mountPath %s, where the store PVC is mounted" .Values.store.uri .Values.store.persistence.mountPath) }}
{{- end }}
{{- end }}
{{- if .Values.retraining.enabled }}
{{- range .Values.retraining.data }}
{{- if and (hasPrefix "file://" .) (not (hasPrefix (printf "%s/" (trimSuffix "/" $.Values.store.persistence.mountPath)) (trimPrefix "file://" .))) }}
{{- fail (printf "retraining.data %s must lie below store.persistence.mountPath %s (the only volume the job mounts), or be s3:// or gs://" . $.Values.store.persistence.mountPath) }}
{{- end }}
{{- if and (hasPrefix "file://" .) (ne (include "mscr.storeScheme" $) "file") }}
{{- fail (printf "retraining.data %s is a file:// URI but the store is %s, so no volume is mounted for it: use s3:// or gs:// data" . $.Values.store.uri) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.grpcIngress.enabled (eq (int .Values.config.grpcPort) 0) }}
{{- fail "grpcIngress.enabled needs gRPC in the pods: set config.grpcPort (0 turns gRPC off)" }}
{{- end }}
{{- if and .Values.gpu.serving.enabled (not .Values.gpu.serving.keepCpuServing) .Values.autoscaling.enabled (not .Values.gpu.serving.autoscaling.enabled) }}
{{- fail "autoscaling.enabled applies to the CPU serving Deployment, which gpu.serving.keepCpuServing=false turns off: set gpu.serving.autoscaling.enabled instead" }}
{{- end }}
{{- end }}

{{/*
Environment of the store credentials, for the serving and retraining containers.
*/}}
{{- define "mscr.storeEnv" -}}
{{- $creds := .Values.store.credentials }}
{{- $scheme := include "mscr.storeScheme" . }}
{{- if and $creds.existingSecret (eq $scheme "s3") }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $creds.existingSecret }}
      key: {{ $creds.awsAccessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $creds.existingSecret }}
      key: {{ $creds.awsSecretAccessKeyKey }}
{{- with $creds.awsSessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $creds.existingSecret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- if and $creds.existingSecret (eq $scheme "gs") }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /var/run/secrets/mscr/gcp/{{ $creds.gcpKeyFileKey }}
{{- end }}
{{- end }}

{{/*
Volumes every mscr pod has: the cache and /tmp emptyDirs, the store PVC (file://) or the GCP
key file (gs:// with a Secret).
*/}}
{{- define "mscr.volumes" -}}
- name: cache
  emptyDir:
    {{- with .Values.cache.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ .Values.cache.sizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- $scheme := include "mscr.storeScheme" . }}
{{- if eq $scheme "file" }}
- name: store
  persistentVolumeClaim:
    claimName: {{ include "mscr.storeClaimName" . }}
{{- end }}
{{- if and .Values.store.credentials.existingSecret (eq $scheme "gs") }}
- name: gcp-credentials
  secret:
    secretName: {{ .Values.store.credentials.existingSecret }}
    items:
      - key: {{ .Values.store.credentials.gcpKeyFileKey }}
        path: {{ .Values.store.credentials.gcpKeyFileKey }}
{{- end }}
{{- end }}

{{- define "mscr.volumeMounts" -}}
- name: cache
  mountPath: /var/cache/mscr
- name: tmp
  mountPath: /tmp
{{- $scheme := include "mscr.storeScheme" . }}
{{- if eq $scheme "file" }}
- name: store
  mountPath: {{ .Values.store.persistence.mountPath }}
{{- end }}
{{- if and .Values.store.credentials.existingSecret (eq $scheme "gs") }}
- name: gcp-credentials
  mountPath: /var/run/secrets/mscr/gcp
  readOnly: true
{{- end }}
{{- end }}

{{/*
Environment of a serving container besides the ConfigMap: GPU settings, store credentials, extraEnv.
*/}}
{{- define "mscr.servingEnv" -}}
{{- $v := .ctx.Values }}
{{- if .gpu }}
# Fail instead of falling back to wasm when tfjs-node-gpu cannot load.
- name: MSCR_BACKEND
  value: tensorflow
- name: MSCR_WORKERS
  value: {{ $v.gpu.serving.workers | quote }}
# Workers share the GPU: allocate its memory as needed, not all at start.
- name: TF_FORCE_GPU_ALLOW_GROWTH
  value: "true"
{{- end }}
{{- $vals := deepCopy $v }}
{{- with $v.store.credentials.servingExistingSecret }}
{{- $_ := set $vals.store.credentials "existingSecret" . }}
{{- end }}
{{- include "mscr.storeEnv" (dict "Values" $vals "Release" .ctx.Release "Chart" .ctx.Chart "Template" .ctx.Template "Capabilities" .ctx.Capabilities) }}
{{- if and $v.retraining.enabled $v.retraining.httpTrigger.enabled }}
# POST /mscr/models/{m}/retrain starts a Job from the retraining CronJob (the chart's Role).
- name: MSCR_RETRAIN_CRONJOB
  value: {{ include "mscr.retrainName" .ctx | quote }}
- name: MSCR_RETRAIN_NAMESPACE
  value: {{ .ctx.Release.Namespace | quote }}
- name: MSCR_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ required "retraining.httpTrigger.adminTokenSecret.name is required when retraining.httpTrigger.enabled" $v.retraining.httpTrigger.adminTokenSecret.name | quote }}
      key: {{ $v.retraining.httpTrigger.adminTokenSecret.key | quote }}
{{- end }}
{{- with $v.brokers.amqp.urlSecret.name }}
# Event-driven intake: the broker URL (with credentials) from a Secret.
- name: MSCR_AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $v.brokers.amqp.urlSecret.key | quote }}
- name: MSCR_AMQP_PREFETCH
  value: {{ $v.brokers.amqp.prefetch | quote }}
- name: MSCR_AMQP_DELIVERY_LIMIT
  value: {{ $v.brokers.amqp.deliveryLimit | quote }}
{{- end }}
{{- with $v.brokers.mqtt.urlSecret.name }}
- name: MSCR_MQTT_URL
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $v.brokers.mqtt.urlSecret.key | quote }}
- name: MSCR_MQTT_CLIENT_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: MSCR_MQTT_INFLIGHT
  value: {{ $v.brokers.mqtt.inflight | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The pod template of a serving Deployment.
Usage: include "mscr.servingPodTemplate" (dict "ctx" $ "gpu" false)
*/}}
{{- define "mscr.servingPodTemplate" -}}
{{- $ctx := .ctx }}
{{- $v := $ctx.Values }}
{{- $component := ternary "serving-gpu" "serving" .gpu -}}
{{- /* Serving pods use store.credentials.servingExistingSecret (read-only) when it is set. */}}
{{- $svals := deepCopy $v }}
{{- with $v.store.credentials.servingExistingSecret }}
{{- $_ := set $svals.store.credentials "existingSecret" . }}
{{- end }}
{{- $sctx := dict "Values" $svals "Release" $ctx.Release "Chart" $ctx.Chart "Template" $ctx.Template "Capabilities" $ctx.Capabilities }}
metadata:
  annotations:
    checksum/config: {{ include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "mscr.componentLabels" (dict "ctx" $ctx "component" $component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  serviceAccountName: {{ include "mscr.serviceAccountName" $ctx }}
  automountServiceAccountToken: {{ include "mscr.servingAutomount" $ctx }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if and .gpu $v.gpu.runtimeClassName }}
  runtimeClassName: {{ $v.gpu.runtimeClassName }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ $ctx.Chart.Name }}
      image: {{ ternary (include "mscr.gpuImage" $ctx) (include "mscr.image" $ctx) .gpu | quote }}
      imagePullPolicy: {{ ternary $v.gpu.image.pullPolicy $v.image.pullPolicy .gpu }}
      args: ["serve"]
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $v.config.port }}
          protocol: TCP
        {{- if ne (int $v.config.grpcPort) 0 }}
        - name: grpc
          containerPort: {{ $v.config.grpcPort }}
          protocol: TCP
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "mscr.fullname" $ctx }}
        {{- with $v.extraEnvFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $env := include "mscr.servingEnv" . }}
      {{- if trim $env }}
      env:
        {{- $env | trim | nindent 8 }}
      {{- end }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", "{{ $v.preStopSleepSeconds }}"]
      startupProbe:
        {{- toYaml $v.startupProbe | nindent 8 }}
      livenessProbe:
        {{- toYaml $v.livenessProbe | nindent 8 }}
      readinessProbe:
        {{- toYaml $v.readinessProbe | nindent 8 }}
      resources:
        {{- if .gpu }}
        {{- $limits := merge (dict $v.gpu.resourceName $v.gpu.serving.gpusPerPod) ($v.gpu.serving.resources.limits | default dict) }}
        {{- toYaml (merge (dict "limits" $limits) (omit $v.gpu.serving.resources "limits")) | nindent 8 }}
        {{- else }}
        {{- toYaml $v.resources | nindent 8 }}
        {{- end }}
      volumeMounts:
        {{- include "mscr.volumeMounts" $sctx | nindent 8 }}
        {{- with $v.volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    {{- include "mscr.volumes" $sctx | nindent 4 }}
    {{- with $v.volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $nodeSelector := ternary $v.gpu.nodeSelector $v.nodeSelector .gpu }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $affinity := ternary $v.gpu.affinity $v.affinity .gpu }}
  {{- with $affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $tolerations := ternary $v.gpu.tolerations $v.tolerations .gpu }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
A HorizontalPodAutoscaler (autoscaling/v2) for a serving Deployment.
Usage: include "mscr.hpa" (dict "ctx" $ "name" $name "component" "serving" "minReplicas" 1 "maxReplicas" 4)
*/}}
{{- define "mscr.hpa" -}}
{{- $a := .ctx.Values.autoscaling }}
{{- if not (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage $a.inFlightRequests.enabled) }}
{{- fail "autoscaling needs at least one target: targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage or inFlightRequests.enabled" }}
{{- end }}
{{- if gt (int .minReplicas) (int .maxReplicas) }}
{{- fail (printf "HPA %s: minReplicas (%d) is larger than maxReplicas (%d)" .name (int .minReplicas) (int .maxReplicas)) }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "mscr.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    {{- with $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- if $a.inFlightRequests.enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ $a.inFlightRequests.metricName }}
        target:
          type: AverageValue
          averageValue: {{ $a.inFlightRequests.averageValue | quote }}
    {{- end }}
  behavior:
    {{- toYaml $a.behavior | nindent 4 }}
{{- end }}

{{/*
A PodDisruptionBudget for a serving Deployment.
*/}}
{{- define "mscr.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "mscr.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ .ctx.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "mscr.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end }}

{{/*
A Service for a serving Deployment.
*/}}
{{- define "mscr.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "mscr.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
  {{- with .ctx.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .ctx.Values.service.type }}
  ports:
    - port: {{ .ctx.Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
    {{- if ne (int .ctx.Values.config.grpcPort) 0 }}
    # gRPC is HTTP/2 without TLS inside the cluster (h2c).
    - port: {{ .ctx.Values.service.grpcPort }}
      targetPort: grpc
      protocol: TCP
      name: grpc
      appProtocol: kubernetes.io/h2c
    {{- end }}
  selector:
    {{- include "mscr.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
{{- end }}

{{/*
Environment of the retraining container besides the ConfigMap.
*/}}
{{- define "mscr.retrainEnv" -}}
{{- /* The run record's trigger: cron here; a Job the k8s/ trigger creates from this template says kubernetes. */}}
- name: MSCR_RETRAIN_TRIGGER
  value: cron
{{- if .Values.gpu.retraining.enabled }}
- name: MSCR_BACKEND
  value: tensorflow
- name: TF_FORCE_GPU_ALLOW_GROWTH
  value: "true"
{{- end }}
{{- include "mscr.storeEnv" . }}
{{- with .Values.retraining.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
