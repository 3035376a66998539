{{/* Names and labels. */}}
{{- define "driftd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "driftd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "driftd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "driftd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "driftd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "driftd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: driftd
{{- end -}}

{{/* The image reference: repository:tag, or repository:tag@digest when pinned. */}}
{{- define "driftd.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- with .Values.image.digest -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" .) -}}
{{- fail (printf "image.digest: %q is not sha256:<64 hex digits>" .) -}}
{{- end -}}
{{- printf "%s:%s@%s" $.Values.image.repository $tag . -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the Kafka SASL password file is mounted. */}}
{{- define "driftd.saslPasswordFile" -}}
/etc/driftd/secrets/kafka/{{ .Values.kafka.saslPassword.key }}
{{- end -}}

{{/*
The config every Deployment starts from: .Values.config, or the shipped example, with
the settings the pod decides (address, checkpoint, password file, and with reload.enabled
http.enable_lifecycle) set. JSON.
*/}}
{{- define "driftd.baseConfig" -}}
{{- $config := dict -}}
{{- if .Values.config -}}
{{- $config = deepCopy .Values.config -}}
{{- else -}}
{{- $config = .Files.Get "files/driftd.example.yaml" | fromYaml -}}
{{- end -}}
{{- if not $config.models -}}
{{- fail "config.models: the config has no models" -}}
{{- end -}}
{{- $http := dict "address" (printf "0.0.0.0:%d" (int .Values.port)) -}}
{{- if .Values.reload.enabled -}}{{- $_ := set $http "enable_lifecycle" true -}}{{- end -}}
{{- $_ := set $config "http" (merge $http (default dict $config.http)) -}}
{{- $_ = set $config "checkpoint" (merge (dict "path" "/var/lib/driftd/state.sqlite") (omit (default dict $config.checkpoint) "path")) -}}
{{- $sources := list -}}
{{- range $source := $config.sources -}}
{{- $sources = append $sources (include "driftd.kafkaSource" (dict "root" $ "source" $source) | fromJson) -}}
{{- end -}}
{{- $_ = set $config "sources" $sources -}}
{{- toJson $config -}}
{{- end -}}

{{/* A source with the release's Kafka settings applied (bootstrap servers, password file). JSON. */}}
{{- define "driftd.kafkaSource" -}}
{{- $source := deepCopy .source -}}
{{- $kafka := .root.Values.kafka -}}
{{- if eq (toString $source.type) "kafka" -}}
{{- with $kafka.bootstrapServers -}}
{{- $_ := set $source "bootstrap_servers" . -}}
{{- end -}}
{{- if $kafka.saslPassword.existingSecret -}}
{{- $security := omit (default dict $source.security) "sasl_password" -}}
{{- $_ := set $security "sasl_password_file" (include "driftd.saslPasswordFile" .root) -}}
{{- $_ = set $source "security" $security -}}
{{- end -}}
{{- end -}}
{{- toJson $source -}}
{{- end -}}

{{/*
The Deployments to render, as a JSON list of {name, suffix, config}: one for all models,
or one per shard with the config narrowed to its models.
*/}}
{{- define "driftd.instances" -}}
{{- $base := include "driftd.baseConfig" . | fromJson -}}
{{- $all := list -}}
{{- range $base.models -}}{{- $all = append $all .name -}}{{- end -}}
{{- $instances := list -}}
{{- if not .Values.shards -}}
{{- $instances = append $instances (dict "name" "" "suffix" "" "models" $all "config" $base) -}}
{{- else -}}
{{- $seen := dict -}}
{{- $names := dict -}}
{{- range $i, $shard := .Values.shards -}}
{{- if not (regexMatch "^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$" (toString $shard.name)) -}}
{{- fail (printf "shards[%d].name: %q must be a lower-case DNS label of at most 32 characters" $i (toString $shard.name)) -}}
{{- end -}}
{{- if hasKey $names $shard.name -}}
{{- fail (printf "shards[%d].name: %q is used by another shard" $i $shard.name) -}}
{{- end -}}
{{- $_ := set $names $shard.name true -}}
{{- if not $shard.models -}}
{{- fail (printf "shards[%d].models: shard %q has no models" $i $shard.name) -}}
{{- end -}}
{{- range $shard.models -}}
{{- if not (has . $all) -}}
{{- fail (printf "shards[%d].models: %q is not a model of the config (models: %s)" $i . (join ", " $all)) -}}
{{- end -}}
{{- if hasKey $seen . -}}
{{- fail (printf "shards[%d].models: %q is already in shard %q" $i . (get $seen .)) -}}
{{- end -}}
{{- $_ := set $seen . $shard.name -}}
{{- end -}}
{{- $config := deepCopy $base -}}
{{- $models := list -}}
{{- range $base.models -}}{{- if has .name $shard.models -}}{{- $models = append $models . -}}{{- end -}}{{- end -}}
{{- $_ = set $config "models" $models -}}
{{- $sources := list -}}
{{- range $source := (default $base.sources $shard.sources) -}}
{{- $source = include "driftd.kafkaSource" (dict "root" $ "source" $source) | fromJson -}}
{{- if eq (toString $source.type) "kafka" -}}
{{- $topics := list -}}
{{- range $topic := $source.topics -}}
{{- if not $topic.models -}}
{{- $topics = append $topics $topic -}}
{{- else -}}
{{- $mine := list -}}
{{- range $topic.models -}}{{- if has . $shard.models -}}{{- $mine = append $mine . -}}{{- end -}}{{- end -}}
{{- if $mine -}}{{- $topics = append $topics (set (deepCopy $topic) "models" $mine) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $source "topics" $topics -}}
{{- $_ = set $source "group_id" (default (printf "%s-%s" (default "driftd" $source.group_id) $shard.name) $shard.groupId) -}}
{{- if not $topics -}}
{{- fail (printf "shards[%d]: no topic of a Kafka source is left for models %s (topics[].models name other models only)" $i (join ", " $shard.models)) -}}
{{- end -}}
{{- end -}}
{{- $sources = append $sources $source -}}
{{- end -}}
{{- $_ = set $config "sources" $sources -}}
{{- $instances = append $instances (dict "name" $shard.name "suffix" (printf "-%s" $shard.name) "models" $shard.models "config" $config) -}}
{{- end -}}
{{- range $all -}}
{{- if not (hasKey $seen .) -}}
{{- fail (printf "shards: model %q is in no shard (every model of the config must be in exactly one)" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $instances -}}
{{- end -}}

{{/* Labels of one instance's pods: the selector labels, plus the shard when sharded. */}}
{{- define "driftd.instanceSelectorLabels" -}}
{{ include "driftd.selectorLabels" .root }}
{{- if .instance.name }}
driftd/shard: {{ .instance.name }}
{{- end }}
{{- end -}}

{{/* The reference profiles of a config's models, as projected ConfigMap items. */}}
{{- define "driftd.profileItems" -}}
{{- range .models -}}
{{- $ref := toString .reference -}}
{{- $key := "" -}}
{{- if hasPrefix "profiles/" $ref -}}{{- $key = trimPrefix "profiles/" $ref -}}{{- end -}}
{{- if hasPrefix "/etc/driftd/profiles/" $ref -}}{{- $key = trimPrefix "/etc/driftd/profiles/" $ref -}}{{- end -}}
{{- if $key }}
- key: {{ $key }}
  path: profiles/{{ $key }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Web config (docs/web-config.md). Everything lives in the one read-only /etc/driftd:
the web config at web/web.yml, the TLS files at web/tls/ (tls.crt, tls.key,
client-ca.crt), so the web config names them relative to its own directory.
*/}}
{{- define "driftd.webConfigFile" -}}/etc/driftd/web/web.yml{{- end -}}

{{/* The web config the chart renders from web.config, with the mounted TLS files named. JSON. */}}
{{- define "driftd.webConfig" -}}
{{- $web := deepCopy (default dict .Values.web.config) -}}
{{- $tlsValues := .Values.web.tls -}}
{{- $tls := deepCopy (default dict $web.tls_server_config) -}}
{{- if $tlsValues.existingSecret -}}
{{- if not (or $tls.cert $tls.cert_file) -}}{{- $_ := set $tls "cert_file" "tls/tls.crt" -}}{{- end -}}
{{- if not (or $tls.key $tls.key_file) -}}{{- $_ := set $tls "key_file" "tls/tls.key" -}}{{- end -}}
{{- end -}}
{{- if or $tlsValues.clientCA.existingSecret $tlsValues.clientCA.configMap -}}
{{- if not $tls.client_auth_type -}}
{{- fail "web.tls.clientCA: set web.config.tls_server_config.client_auth_type too (RequireAndVerifyClientCert, or VerifyClientCertIfGiven)" -}}
{{- end -}}
{{- if not (or $tls.client_ca $tls.client_ca_file) -}}{{- $_ := set $tls "client_ca_file" "tls/client-ca.crt" -}}{{- end -}}
{{- end -}}
{{- if $tls -}}{{- $_ := set $web "tls_server_config" $tls -}}{{- end -}}
{{- toJson $web -}}
{{- end -}}

{{/*
How the HTTP endpoints are served, as JSON {enabled, secret, key, scheme, probe}:
enabled when a web config is given (web.config, web.existingSecret or only
web.tls.existingSecret); scheme HTTPS when it serves TLS; probe tcpSocket when a
kubelet cannot pass (client certificates required, or basic auth on the probes).
web.scheme and web.probes override the detection (needed for web.existingSecret,
whose content the chart cannot read).
*/}}
{{- define "driftd.web" -}}
{{- $values := .Values.web -}}
{{- $out := dict "enabled" false "scheme" "HTTP" "probe" "httpGet" -}}
{{- if and $values.config $values.existingSecret -}}
{{- fail "web.config, web.existingSecret: set one of them (the web config, or the Secret that holds it)" -}}
{{- end -}}
{{- if or $values.config $values.existingSecret $values.tls.existingSecret -}}
{{- $_ := set $out "enabled" true -}}
{{- $base := include "driftd.baseConfig" . | fromJson -}}
{{- $probesAuthenticated := (default dict $base.http).authenticate_probes -}}
{{- if $values.existingSecret -}}
{{- $_ = set $out "secret" $values.existingSecret -}}
{{- $_ = set $out "key" $values.existingSecretKey -}}
{{- if not $values.scheme -}}
{{- fail "web.scheme: set HTTP or HTTPS with web.existingSecret (the chart cannot read the web config in that Secret)" -}}
{{- end -}}
{{- if $probesAuthenticated -}}{{- $_ = set $out "probe" "tcpSocket" -}}{{- end -}}
{{- else -}}
{{- $config := include "driftd.webConfig" . | fromJson -}}
{{- $_ = set $out "secret" (printf "%s-web" (include "driftd.fullname" .)) -}}
{{- $_ = set $out "key" "web.yml" -}}
{{- $tls := default dict $config.tls_server_config -}}
{{- range list "cert" "key" "client_ca" "cert_file" "key_file" "client_auth_type" "client_ca_file" -}}
{{- if index $tls . -}}{{- $_ = set $out "scheme" "HTTPS" -}}{{- end -}}
{{- end -}}
{{- if eq (toString $tls.client_auth_type) "RequireAndVerifyClientCert" -}}
{{- $_ = set $out "probe" "tcpSocket" -}}
{{- end -}}
{{- if and $probesAuthenticated $config.basic_auth_users -}}
{{- $_ = set $out "probe" "tcpSocket" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $values.scheme -}}{{- $_ := set $out "scheme" . -}}{{- end -}}
{{- with $values.probes -}}{{- $_ := set $out "probe" . -}}{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* A probe of path .path on the metrics port, as .web says (httpGet or tcpSocket). */}}
{{- define "driftd.probe" -}}
{{- if eq .web.probe "tcpSocket" -}}
tcpSocket:
  port: metrics
{{- else -}}
httpGet:
  path: {{ .path }}
  port: metrics
  {{- if eq .web.scheme "HTTPS" }}
  scheme: HTTPS
  {{- end }}
{{- end -}}
{{- end -}}

{{/*
What rolls the pod on a change: the whole config by default; with reload.enabled
only the sections a reload cannot apply (driftd.service.reload.RELOADABLE: models,
evaluation, alerts and logging.level are applied by SIGHUP or POST /-/reload).
*/}}
{{- define "driftd.configChecksum" -}}
{{- $config := deepCopy .config -}}
{{- if .root.Values.reload.enabled -}}
{{- $config = omit $config "models" "evaluation" "alerts" -}}
{{- $logging := omit (default dict $config.logging) "level" -}}
{{- $config = omit $config "logging" -}}
{{- if $logging -}}{{- $_ := set $config "logging" $logging -}}{{- end -}}
{{- end -}}
{{- toJson $config | sha256sum -}}
{{- end -}}
