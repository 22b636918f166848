// Built by client/web/build.mjs from client/web/src and client/sdk: edit those, then run npm run build:web.
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __commonJS = (cb, mod) => function __require() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// empty:node:crypto
var require_node_crypto = __commonJS({
  "empty:node:crypto"(exports, module) {
    module.exports = {};
  }
});

// empty:node:os
var require_node_os = __commonJS({
  "empty:node:os"(exports, module) {
    module.exports = {};
  }
});

// connectors/errors.ts
var statusByCode = {
  bad_request: 400,
  bad_data: 400,
  not_found: 404,
  conflict: 409,
  integrity: 500,
  payload_too_large: 413,
  unavailable: 503,
  config: 400,
  internal: 500
};
var MscrError = class extends Error {
  code;
  status;
  constructor(code, message, options) {
    super(message, options?.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = "MscrError";
    this.code = code;
    this.status = options?.status ?? statusByCode[code];
  }
};

// connectors/ms/manifest.ts
var MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
function validateModelName(name) {
  if (!MODEL_NAME.test(name) || name.includes("..")) {
    throw new MscrError(
      "bad_request",
      `invalid model name ${JSON.stringify(typeof name === "string" && name.length > 64 ? `${name.slice(0, 64)}...` : name)}: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`
    );
  }
  return name;
}
function isVersionNumber(value) {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

// connectors/store/model-store.ts
var import_node_crypto = __toESM(require_node_crypto(), 1);
var import_node_os = __toESM(require_node_os(), 1);
var LATEST = "latest";
var ALIAS_NAME = /^[a-z][a-z0-9-]{0,31}$/;
function validateAliasName(alias) {
  if (typeof alias !== "string" || !ALIAS_NAME.test(alias) || alias === LATEST) {
    throw new MscrError(
      "bad_request",
      `invalid alias name ${JSON.stringify(alias)}: use 1-32 lower-case letters, digits or '-', starting with a letter (and not "${LATEST}")`
    );
  }
  return alias;
}

// connectors/sc/routes.ts
var V1_MODELS_PATH = "/v1/models";
var V2_SERVER_METADATA_PATH = "/v2";
var V2_LIVE_PATH = "/v2/health/live";
var V2_READY_PATH = "/v2/health/ready";
var V2_MODELS_PATH = "/v2/models";
var MSCR_MODELS_PATH = "/mscr/models";
function segment(text) {
  return encodeURIComponent(text);
}
function checkSelector(selector) {
  if (selector === void 0) return;
  if ("version" in selector) {
    if (!isVersionNumber(selector.version)) {
      throw new MscrError(
        "bad_request",
        `invalid version ${String(selector.version)}: versions are positive integers`
      );
    }
  } else {
    validateAliasName(selector.label);
  }
}
function modelBase(prefix, model) {
  return `${prefix}/${segment(validateModelName(model))}`;
}
function v1ModelPath(model, selector) {
  checkSelector(selector);
  const base = modelBase(V1_MODELS_PATH, model);
  if (selector === void 0) return base;
  return "version" in selector ? `${base}/versions/${selector.version}` : `${base}/labels/${segment(selector.label)}`;
}
function v1PredictPath(model, selector) {
  return `${v1ModelPath(model, selector)}:predict`;
}
function versionedPath(prefix, model, selector) {
  checkSelector(selector);
  const base = modelBase(prefix, model);
  if (selector === void 0) return base;
  return `${base}/versions/${"version" in selector ? selector.version : segment(selector.label)}`;
}
function v2ModelPath(model, selector) {
  return versionedPath(V2_MODELS_PATH, model, selector);
}
function v2ModelReadyPath(model, selector) {
  return `${v2ModelPath(model, selector)}/ready`;
}
function v2InferPath(model, selector) {
  return `${v2ModelPath(model, selector)}/infer`;
}
function mscrClassifyPath(model, selector) {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/classify`;
}
function mscrDetectPath(model, selector) {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/detect`;
}
function mscrForecastPath(model, selector) {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/forecast`;
}
function mscrFeedbackPath(model) {
  return `${modelBase(MSCR_MODELS_PATH, model)}/feedback`;
}
function mscrSignalsPath(model) {
  return `${modelBase(MSCR_MODELS_PATH, model)}/signals`;
}
function mscrRetrainPath(model) {
  return `${modelBase(MSCR_MODELS_PATH, model)}/retrain`;
}
function mscrRunsPath(model) {
  return `${modelBase(MSCR_MODELS_PATH, model)}/runs`;
}
function mscrEvaluatePath(model) {
  return `${modelBase(MSCR_MODELS_PATH, model)}/evaluate`;
}
var MSCR_TRAIN_PATH = "/mscr/train";
function mscrTrainRunPath(id) {
  return `${MSCR_TRAIN_PATH}/${encodeURIComponent(id)}`;
}

// connectors/text.ts
function trimTrailing(text, chars) {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1])) end--;
  return text.slice(0, end);
}

// client/sdk/errors.ts
function errorCodeOfStatus(status) {
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "payload_too_large";
  if (status === 401 || status === 403) return "config";
  if (status === 429 || status === 502 || status === 503 || status === 504) return "unavailable";
  if (status >= 400 && status < 500) return "bad_request";
  return "internal";
}
var MscrClientError = class extends MscrError {
  name = "MscrClientError";
  kind;
  /** The HTTP status of the answer; 0 when no answer came (network, timeout, aborted, input). */
  httpStatus;
  /** The server's `{"error": "..."}` text, when it sent one. */
  serverMessage;
  method;
  url;
  /** Requests sent, retries included (0 when the SDK refused the arguments). */
  attempts;
  constructor(kind, message, details = {}) {
    const httpStatus = details.httpStatus ?? 0;
    const code = kind === "http" ? errorCodeOfStatus(httpStatus) : kind === "input" ? "bad_request" : kind === "protocol" ? "internal" : "unavailable";
    super(code, message, {
      ...details.cause !== void 0 ? { cause: details.cause } : {},
      ...httpStatus > 0 ? { status: httpStatus } : {}
    });
    this.kind = kind;
    this.httpStatus = httpStatus;
    this.serverMessage = details.serverMessage;
    this.method = details.method ?? "";
    this.url = details.url ?? "";
    this.attempts = details.attempts ?? 0;
  }
};
function isMscrClientError(error) {
  return error instanceof MscrClientError;
}

// client/sdk/binary.ts
var INFERENCE_HEADER = "Inference-Header-Content-Length";
var CODECS = {
  FP32: {
    bytes: 4,
    write: (v, o, x) => v.setFloat32(o, x, true),
    read: (v, o) => v.getFloat32(o, true)
  },
  FP64: {
    bytes: 8,
    write: (v, o, x) => v.setFloat64(o, x, true),
    read: (v, o) => v.getFloat64(o, true)
  },
  INT8: { bytes: 1, write: (v, o, x) => v.setInt8(o, x), read: (v, o) => v.getInt8(o) },
  INT16: {
    bytes: 2,
    write: (v, o, x) => v.setInt16(o, x, true),
    read: (v, o) => v.getInt16(o, true)
  },
  INT32: {
    bytes: 4,
    write: (v, o, x) => v.setInt32(o, x, true),
    read: (v, o) => v.getInt32(o, true)
  },
  UINT8: { bytes: 1, write: (v, o, x) => v.setUint8(o, x), read: (v, o) => v.getUint8(o) },
  UINT16: {
    bytes: 2,
    write: (v, o, x) => v.setUint16(o, x, true),
    read: (v, o) => v.getUint16(o, true)
  },
  UINT32: {
    bytes: 4,
    write: (v, o, x) => v.setUint32(o, x, true),
    read: (v, o) => v.getUint32(o, true)
  },
  BOOL: { bytes: 1, write: (v, o, x) => v.setUint8(o, x ? 1 : 0), read: (v, o) => v.getUint8(o) }
};
function flatten(data) {
  return data.flat(Infinity);
}
function encodeBinaryInferRequest(request) {
  const chunks = [];
  const inputs = request.inputs.map((input, i) => {
    const codec = CODECS[input.datatype];
    if (codec === void 0) return input;
    const values = flatten(input.data);
    const bytes = new Uint8Array(values.length * codec.bytes);
    const view = new DataView(bytes.buffer);
    values.forEach((value, e) => {
      const number2 = typeof value === "boolean" ? Number(value) : value;
      if (typeof number2 !== "number") {
        throw new MscrClientError(
          "input",
          `inputs[${i}] (${input.name}) is ${input.datatype} but element ${e} is ${JSON.stringify(value)}`
        );
      }
      codec.write(view, e * codec.bytes, number2);
    });
    chunks.push(bytes);
    const { data: _data, ...rest } = input;
    return { ...rest, parameters: { ...input.parameters ?? {}, binary_data_size: bytes.length } };
  });
  const outputs = request.outputs?.map((output) => ({
    ...output,
    parameters: { ...output.parameters ?? {}, binary_data: true }
  }));
  const header = new TextEncoder().encode(
    JSON.stringify({
      ...request,
      inputs,
      ...outputs !== void 0 ? { outputs } : {},
      parameters: {
        ...request.parameters ?? {},
        ...outputs === void 0 ? { binary_data_output: true } : {}
      }
    })
  );
  const body = new Uint8Array(header.length + chunks.reduce((n, c) => n + c.length, 0));
  body.set(header, 0);
  let offset = header.length;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return { body, headerLength: header.length };
}
function decodeInferResponse(body, headerLength) {
  const length = headerLength === null ? body.length : Number(headerLength);
  if (!Number.isSafeInteger(length) || length < 0 || length > body.length) {
    throw new MscrClientError(
      "protocol",
      `${INFERENCE_HEADER} is ${String(headerLength)}, but the body has ${body.length} bytes`
    );
  }
  let response;
  try {
    response = JSON.parse(new TextDecoder().decode(body.subarray(0, length)));
  } catch (error) {
    throw new MscrClientError("protocol", "the inference answer is not JSON", { cause: error });
  }
  if (headerLength === null) return response;
  let offset = length;
  const outputs = response.outputs.map((output) => {
    const size = output.parameters?.binary_data_size;
    if (typeof size !== "number") return output;
    const codec = CODECS[output.datatype];
    if (codec === void 0 || offset + size > body.length) {
      throw new MscrClientError(
        "protocol",
        `output ${output.name}: cannot read ${size} bytes of ${output.datatype} binary data`
      );
    }
    const view = new DataView(body.buffer, body.byteOffset + offset, size);
    const data = Array.from(
      { length: size / codec.bytes },
      (_, e) => codec.read(view, e * codec.bytes)
    );
    offset += size;
    const { binary_data_size: _size, ...parameters } = output.parameters ?? {};
    const { parameters: _parameters, ...rest } = output;
    return { ...rest, data, ...Object.keys(parameters).length > 0 ? { parameters } : {} };
  });
  return { ...response, outputs };
}

// client/sdk/transport.ts
var NEVER_SENT = /* @__PURE__ */ new Set(["ECONNREFUSED"]);
function networkCode(error) {
  let cause = error?.cause;
  for (let depth = 0; depth < 4 && cause !== void 0 && cause !== null; depth++) {
    const code = cause.code;
    if (typeof code === "string") return code;
    const errors = cause.errors;
    cause = Array.isArray(errors) ? errors[0] : cause.cause;
  }
  return void 0;
}
function networkDetail(error) {
  let detail;
  let cause = error?.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    detail = cause.message || detail;
    cause = cause.cause;
  }
  return detail;
}
function describeNetwork(code, detail) {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "the connection was reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name does not resolve";
    case "UND_ERR_CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return "the connection timed out";
    case void 0:
      return detail ?? "network error";
    default:
      return code;
  }
}
function sleep(ms2, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms2);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
function serverErrorText(body) {
  const text = new TextDecoder().decode(body).trim();
  if (text === "") return void 0;
  try {
    const json = JSON.parse(text);
    if (json !== null && typeof json === "object" && "error" in json) {
      const error = json.error;
      return typeof error === "string" ? error : JSON.stringify(error);
    }
  } catch {
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
function retryDelay(retry, settings, retryAfter) {
  const exponential = Math.min(
    settings.maxRetryDelayMs,
    settings.retryDelayMs * 2 ** Math.max(0, retry - 1)
  );
  let delay = exponential * (0.5 + settings.random() / 2);
  const asked = retryAfter != null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1e3 : 0;
  if (asked > delay) delay = Math.min(asked, settings.maxRetryDelayMs);
  return Math.round(delay);
}
async function attemptOnce(spec, settings, options, attempt) {
  const url = `${settings.baseUrl}${spec.path}`;
  const timeoutMs = options.timeoutMs ?? settings.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCallerAbort = () => controller.abort();
  options.signal?.addEventListener("abort", onCallerAbort, { once: true });
  const where = { method: spec.method, url, attempts: attempt };
  try {
    const headers = {
      accept: "application/json",
      ...settings.headers,
      ...options.headers,
      ...spec.headers
    };
    if (spec.contentType !== void 0) headers["content-type"] = spec.contentType;
    let response;
    try {
      response = await settings.fetch(url, {
        method: spec.method,
        headers,
        ...spec.body !== void 0 ? { body: spec.body } : {},
        signal: controller.signal
      });
    } catch (error) {
      if (timedOut) {
        return {
          ok: false,
          retryable: false,
          error: new MscrClientError(
            "timeout",
            `no answer from ${spec.method} ${url} within ${timeoutMs} ms`,
            { ...where, cause: error }
          )
        };
      }
      if (options.signal?.aborted) {
        return {
          ok: false,
          retryable: false,
          error: new MscrClientError("aborted", `${spec.method} ${url} was cancelled`, {
            ...where,
            cause: error
          })
        };
      }
      const code = networkCode(error);
      return {
        ok: false,
        retryable: spec.idempotent || code !== void 0 && NEVER_SENT.has(code),
        error: new MscrClientError(
          "network",
          `cannot reach the service at ${settings.baseUrl} (${describeNetwork(code, networkDetail(error))}): is it running, and is the URL right?`,
          { ...where, cause: error }
        )
      };
    }
    let body;
    try {
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      const kind = timedOut ? "timeout" : options.signal?.aborted ? "aborted" : "network";
      return {
        ok: false,
        retryable: kind === "network" && spec.idempotent,
        error: new MscrClientError(
          kind,
          kind === "timeout" ? `the answer of ${spec.method} ${url} did not arrive within ${timeoutMs} ms` : `the answer of ${spec.method} ${url} broke off: ${error.message}`,
          { ...where, httpStatus: response.status, cause: error }
        )
      };
    }
    const accepted = response.ok || (spec.accept?.includes(response.status) ?? false);
    if (accepted) {
      return {
        ok: true,
        response: {
          status: response.status,
          headers: response.headers,
          body,
          url,
          attempts: attempt
        }
      };
    }
    const serverMessage = serverErrorText(body);
    const statusText = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    return {
      ok: false,
      retryable: response.status === 503,
      retryAfter: response.headers.get("retry-after"),
      error: new MscrClientError(
        "http",
        `${spec.method} ${url} answered ${statusText}${serverMessage ? `: ${serverMessage}` : ""}`,
        { ...where, httpStatus: response.status, ...serverMessage ? { serverMessage } : {} }
      )
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onCallerAbort);
  }
}
async function send(spec, settings, options = {}) {
  const retries = options.retries ?? settings.retries;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new MscrClientError("aborted", `${spec.method} ${spec.path} was cancelled`, {
        method: spec.method,
        url: `${settings.baseUrl}${spec.path}`,
        attempts: attempt - 1
      });
    }
    const outcome = await attemptOnce(spec, settings, options, attempt);
    if (outcome.ok) return outcome.response;
    if (!outcome.retryable || attempt > retries) {
      if (attempt > 1 && outcome.retryable) {
        throw new MscrClientError(
          outcome.error.kind,
          `${outcome.error.message} (after ${attempt} attempts)`,
          {
            httpStatus: outcome.error.httpStatus,
            ...outcome.error.serverMessage !== void 0 ? { serverMessage: outcome.error.serverMessage } : {},
            method: outcome.error.method,
            url: outcome.error.url,
            attempts: attempt,
            cause: outcome.error.cause
          }
        );
      }
      throw outcome.error;
    }
    try {
      await sleep(retryDelay(attempt, settings, outcome.retryAfter), options.signal);
    } catch (reason) {
      throw new MscrClientError("aborted", `${spec.method} ${spec.path} was cancelled`, {
        method: spec.method,
        url: `${settings.baseUrl}${spec.path}`,
        attempts: attempt,
        cause: reason
      });
    }
  }
}
function parseJson(response, method) {
  const text = new TextDecoder().decode(response.body);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MscrClientError(
      "protocol",
      `${method} ${response.url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 120)}`,
      {
        method,
        url: response.url,
        httpStatus: response.status,
        attempts: response.attempts,
        cause: error
      }
    );
  }
}

// client/sdk/training.ts
function bearer(token, what) {
  if (typeof token !== "string" || token.trim() === "") {
    throw new MscrClientError("input", `${what} needs the admin token`);
  }
  return `Bearer ${token.trim()}`;
}
async function* parseEventStream(body) {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  let id;
  const reader = body.getReader();
  try {
    for (; ; ) {
      const { value, done: done2 } = await reader.read();
      if (done2) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) {
            yield {
              event: event || "message",
              ...id !== void 0 ? { id } : {},
              data: data.join("\n")
            };
          }
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value2 = colon < 0 ? "" : line.slice(colon + 1);
        if (value2.startsWith(" ")) value2 = value2.slice(1);
        if (field === "event") event = value2;
        else if (field === "data") data.push(value2);
        else if (field === "id" && !value2.includes("\0")) id = value2;
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => void 0);
  }
}
function createTrainingCalls(deps) {
  return {
    /** `POST /mscr/train`: starts a training run (202 with its id). */
    async train(request, options) {
      const { token, ...callOptions } = options;
      const authorization = bearer(token, "training");
      return deps.postJson(MSCR_TRAIN_PATH, request, false, callOptions, {
        headers: { authorization }
      });
    },
    /** `GET /mscr/train/{id}`: the run's record. */
    async trainStatus(id, options) {
      const { token, ...callOptions } = options;
      return deps.getJson(mscrTrainRunPath(id), {
        ...callOptions,
        headers: { ...callOptions.headers, authorization: bearer(token, "training") }
      });
    },
    /**
     * `GET /mscr/train/{id}` as Server-Sent Events: the run's progress (state, epoch and
     * trial events) and finally its `report`, after which the iteration ends. A broken
     * stream is resumed with `Last-Event-ID`, so no event is seen twice.
     */
    async *trainEvents(id, options) {
      const authorization = bearer(options.token, "training");
      const url = `${deps.baseUrl}${mscrTrainRunPath(id)}`;
      let lastId;
      let reconnects = options.reconnects ?? 5;
      for (; ; ) {
        let response;
        try {
          response = await deps.fetch(url, {
            headers: {
              ...deps.headers,
              ...options.headers,
              accept: "text/event-stream",
              authorization,
              ...lastId !== void 0 ? { "last-event-id": lastId } : {}
            },
            ...options.signal ? { signal: options.signal } : {}
          });
        } catch (error) {
          if (options.signal?.aborted) {
            throw new MscrClientError("aborted", `GET ${url} was cancelled`, { url, cause: error });
          }
          if (reconnects-- > 0) {
            await new Promise((resolve) => setTimeout(resolve, 1e3));
            continue;
          }
          throw new MscrClientError("network", `GET ${url} failed: ${String(error)}`, {
            method: "GET",
            url,
            cause: error
          });
        }
        if (response.status === 204) return;
        if (!response.ok || response.body === null) {
          const text = serverErrorText(new Uint8Array(await response.arrayBuffer()));
          throw new MscrClientError(
            "http",
            `GET ${url} answered ${response.status}${text ? `: ${text}` : ""}`,
            {
              httpStatus: response.status,
              ...text ? { serverMessage: text } : {},
              method: "GET",
              url
            }
          );
        }
        try {
          for await (const raw of parseEventStream(response.body)) {
            if (raw.id !== void 0) lastId = raw.id;
            let data;
            try {
              data = JSON.parse(raw.data);
            } catch {
              throw new MscrClientError("protocol", `an event of ${url} is not JSON`, { url });
            }
            yield {
              event: raw.event,
              ...raw.id !== void 0 ? { id: raw.id } : {},
              data
            };
            if (raw.event === "report") return;
          }
        } catch (error) {
          if (error instanceof MscrClientError || options.signal?.aborted) throw error;
        }
        if (reconnects-- <= 0) {
          throw new MscrClientError("network", `the progress stream of ${id} kept breaking`, {
            url
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 1e3));
      }
    },
    /** `POST /mscr/models/{m}/evaluate`: a version's metrics on data. */
    async evaluate(model, request, options) {
      const { token, ...callOptions } = options;
      const authorization = bearer(token, "evaluation");
      let urlPath;
      try {
        urlPath = mscrEvaluatePath(model);
      } catch (error) {
        throw new MscrClientError("input", error.message, { cause: error });
      }
      return deps.postJson(urlPath, request, true, callOptions, {
        headers: { authorization }
      });
    }
  };
}

// connectors/csv/number.ts
function isDigit(code) {
  return code >= 48 && code <= 57;
}
function skipDigits(text, from) {
  let i = from;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}
function isDecimal(text) {
  let i = 0;
  const sign = text.charCodeAt(0);
  if (sign === 43 || sign === 45) i++;
  const integerEnd = skipDigits(text, i);
  let hasDigits = integerEnd > i;
  i = integerEnd;
  if (text.charCodeAt(i) === 46) {
    const fractionEnd = skipDigits(text, i + 1);
    hasDigits ||= fractionEnd > i + 1;
    i = fractionEnd;
  }
  if (!hasDigits) return false;
  const e = text.charCodeAt(i);
  if (e === 101 || e === 69) {
    i++;
    const expSign = text.charCodeAt(i);
    if (expSign === 43 || expSign === 45) i++;
    const exponentEnd = skipDigits(text, i);
    if (exponentEnd === i) return false;
    i = exponentEnd;
  }
  return i === text.length;
}

// connectors/csv/lines.ts
var REQUEST_CSV_LIMITS = { maxLineLength: 64 * 1024, maxLines: 1e5 };
var FILE_CSV_LIMITS = {
  maxLineLength: 4 * 1024 * 1024,
  maxLines: 5e7
};
var CsvLimitExceeded = class extends Error {
  constructor(message) {
    super(message);
    this.name = "CsvLimitExceeded";
  }
};
function csvLines(text, limits) {
  const lines = [];
  let start2 = text.charCodeAt(0) === 65279 ? 1 : 0;
  while (start2 <= text.length) {
    if (lines.length === limits.maxLines) {
      throw new CsvLimitExceeded(
        `the CSV has more than ${limits.maxLines} lines; send at most ${limits.maxLines}`
      );
    }
    let end = text.indexOf("\n", start2);
    if (end < 0) end = text.length;
    const contentEnd = end > start2 && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (contentEnd - start2 > limits.maxLineLength) {
      throw new CsvLimitExceeded(
        `line ${lines.length + 1} is ${contentEnd - start2} characters long; the limit is ${limits.maxLineLength}`
      );
    }
    lines.push(text.slice(start2, contentEnd));
    start2 = end + 1;
  }
  return lines;
}
function csvCells(line) {
  return line.split(",").map((cell) => {
    const trimmed = cell.trim();
    return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1).trim() : trimmed;
  });
}

// client/sdk/series.ts
function parseSeriesCsv(text, order = "oldest-first") {
  let lines;
  try {
    lines = csvLines(text, FILE_CSV_LIMITS);
  } catch (error) {
    if (error instanceof CsvLimitExceeded) throw new MscrClientError("input", error.message);
    throw error;
  }
  let columns;
  let headerLine;
  let commentHeader;
  const rows = [];
  const rowLines = [];
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === "") continue;
    if (trimmed.startsWith("#")) {
      if (rows.length === 0 && columns === void 0) {
        const names = csvCells(trimmed.slice(1));
        if (names.length > 1 && names.every((n) => n !== "" && !isDecimal(n)))
          commentHeader = names;
      }
      continue;
    }
    const fields = csvCells(trimmed);
    if (rows.length === 0 && columns === void 0 && fields.some((f) => !isDecimal(f))) {
      columns = fields;
      headerLine = i + 1;
      continue;
    }
    if (rows.length > 0 && fields.length !== rows[0].length) {
      throw new MscrClientError(
        "input",
        `line ${i + 1} has ${fields.length} fields; the lines before it have ${rows[0].length}`
      );
    }
    rows.push(fields);
    rowLines.push(i + 1);
  }
  if (rows.length === 0) {
    throw new MscrClientError("input", "the CSV has no data rows");
  }
  const width = rows[0].length;
  if (columns === void 0 && commentHeader?.length === width) columns = commentHeader;
  if (columns !== void 0 && columns.length !== width) {
    throw new MscrClientError(
      "input",
      `the header names ${columns.length} columns but the data rows have ${width} fields`
    );
  }
  if (order === "newest-first") {
    rows.reverse();
    rowLines.reverse();
  }
  const where = { rows: rowLines, ...headerLine !== void 0 ? { header: headerLine } : {} };
  return columns === void 0 ? { rows, lines: where } : { columns, rows, lines: where };
}
function targetColumnIndex(series, target) {
  const width = (series.rows[0] ?? []).length;
  if (typeof target === "number") {
    if (!Number.isInteger(target) || target < 0 || target >= width)
      throw new MscrClientError("input", `column ${target} is out of range (0-${width - 1})`);
    return { index: target, guessed: false };
  }
  if (target !== void 0 && series.columns !== void 0) {
    const index = series.columns.indexOf(target);
    if (index >= 0) return { index, guessed: false };
  }
  return { index: width - 1, guessed: true };
}
function slidingWindows(series, size) {
  if (!Number.isInteger(size) || size < 1) {
    throw new MscrClientError("input", `window size must be a positive integer, got ${size}`);
  }
  if (series.rows.length < size) {
    throw new MscrClientError(
      "input",
      `the CSV has ${series.rows.length} data rows; the model needs at least a window of ${size}`
    );
  }
  const header = series.columns !== void 0 ? `${series.columns.join(",")}
` : "";
  const windows = [];
  for (let end = size; end <= series.rows.length; end++) {
    const body = series.rows.slice(end - size, end).map((row) => row.join(",")).join("\n");
    const fileLines = [
      ...header !== "" ? [series.lines?.header ?? 0] : [],
      ...series.lines?.rows.slice(end - size, end) ?? []
    ];
    windows.push({ index: end, csv: `${header}${body}
`, fileLines });
  }
  return windows;
}
function toFileLines(message, window) {
  return message.replace(/\bline (\d+)\b/g, (text, n) => {
    const line = window.fileLines[Number(n) - 1];
    return line ? `line ${line} of the file` : text;
  });
}
function columnValues(series, index) {
  return series.rows.map((row) => {
    const cell = row[index] ?? "";
    return isDecimal(cell) ? Number(cell) : Number.NaN;
  });
}
function rmse(pairs) {
  let sum = 0;
  let n = 0;
  for (const { actual, predicted } of pairs) {
    if (actual === void 0 || predicted === void 0) continue;
    if (!Number.isFinite(actual) || !Number.isFinite(predicted)) continue;
    sum += (actual - predicted) ** 2;
    n++;
  }
  return n === 0 ? void 0 : Math.sqrt(sum / n);
}
async function mapLimit(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await task(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

// client/sdk/client.ts
function looksLikeDetector(metadata) {
  const input = metadata.inputs[0]?.shape ?? [];
  const output = metadata.outputs[0]?.shape ?? [];
  return input.length === 4 && output.length >= 3;
}
function selectorOf(version) {
  if (version === void 0 || version === "" || version === "latest") return void 0;
  if (typeof version === "number") return { version };
  return /^[0-9]+$/.test(version) ? { version: Number(version) } : { label: version };
}
function normalizeBaseUrl(baseUrl) {
  let url;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new MscrClientError(
      "input",
      `invalid service URL ${JSON.stringify(baseUrl)}: expected e.g. http://localhost:8080`
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MscrClientError(
      "input",
      `invalid service URL ${JSON.stringify(baseUrl)}: only http:// and https:// are supported`
    );
  }
  return `${url.origin}${trimTrailing(url.pathname, "/")}`;
}
function positive(name, value, fallback, min = 0) {
  if (value === void 0) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new MscrClientError("input", `${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}
function path(build) {
  try {
    return build();
  } catch (error) {
    throw new MscrClientError("input", error.message, { cause: error });
  }
}
function inFileTerms(error, window) {
  if (!isMscrClientError(error) || error.kind !== "http" || error.serverMessage === void 0)
    return error;
  const serverMessage = toFileLines(error.serverMessage, window);
  if (serverMessage === error.serverMessage) return error;
  return new MscrClientError("http", toFileLines(error.message, window), {
    httpStatus: error.httpStatus,
    serverMessage,
    method: error.method,
    url: error.url,
    attempts: error.attempts,
    cause: error
  });
}
function createClient(options) {
  const fetchFn = options.fetch ?? ((input, init) => {
    if (typeof globalThis.fetch !== "function") {
      throw new MscrClientError("input", "this runtime has no fetch; pass options.fetch");
    }
    return globalThis.fetch(input, init);
  });
  const settings = {
    baseUrl: normalizeBaseUrl(options.baseUrl),
    timeoutMs: positive("timeoutMs", options.timeoutMs, 3e4, 1),
    retries: Math.floor(positive("retries", options.retries, 2)),
    retryDelayMs: positive("retryDelayMs", options.retryDelayMs, 200),
    maxRetryDelayMs: positive("maxRetryDelayMs", options.maxRetryDelayMs, 5e3),
    fetch: fetchFn,
    headers: { ...options.headers },
    random: options.random ?? Math.random
  };
  const call = (spec, callOptions = {}) => send(spec, settings, callOptions);
  async function getJson(urlPath, callOptions = {}, accept) {
    const response = await call(
      { method: "GET", path: urlPath, idempotent: true, ...accept ? { accept } : {} },
      callOptions
    );
    return parseJson(response, "GET");
  }
  async function postJson(urlPath, body, idempotent, callOptions = {}, extra = {}) {
    const response = await call(
      {
        method: "POST",
        path: urlPath,
        body: JSON.stringify(body),
        contentType: "application/json",
        idempotent,
        ...extra
      },
      callOptions
    );
    return parseJson(response, "POST");
  }
  async function postImage(urlPath, image, opts) {
    const blobType = typeof Blob !== "undefined" && image instanceof Blob ? image.type : "";
    const size = image instanceof ArrayBuffer ? image.byteLength : "size" in image ? image.size : image.length;
    if (size === 0) {
      throw new MscrClientError("input", "the image is empty: pass the bytes of an image file");
    }
    return call(
      {
        method: "POST",
        path: urlPath,
        body: image,
        contentType: opts.contentType ?? (blobType || "application/octet-stream"),
        idempotent: true
      },
      opts
    );
  }
  const training = createTrainingCalls({
    baseUrl: settings.baseUrl,
    fetch: fetchFn,
    headers: settings.headers,
    getJson: (urlPath, callOptions) => getJson(urlPath, callOptions),
    postJson: (urlPath, body, idempotent, callOptions, extra) => postJson(urlPath, body, idempotent, callOptions, extra)
  });
  const client = {
    baseUrl: settings.baseUrl,
    train: training.train,
    trainStatus: training.trainStatus,
    trainEvents: training.trainEvents,
    evaluate: training.evaluate,
    async live(callOptions) {
      const body = await getJson(V2_LIVE_PATH, callOptions, [503]);
      return body.live === true;
    },
    async ready(callOptions) {
      const body = await getJson(V2_READY_PATH, callOptions, [503]);
      return body.ready === true;
    },
    serverMetadata: async (callOptions) => getJson(V2_SERVER_METADATA_PATH, callOptions),
    async listModels(callOptions) {
      return (await getJson(V1_MODELS_PATH, callOptions)).models;
    },
    modelMetadata: async (model, opts = {}) => getJson(
      path(() => v2ModelPath(model, selectorOf(opts.version))),
      opts
    ),
    async modelReady(model, opts = {}) {
      const body = await getJson(
        path(() => v2ModelReadyPath(model, selectorOf(opts.version))),
        opts,
        [503]
      );
      return body.ready === true;
    },
    // `?format=kserve`: TF Serving's status plus KServe V1's `name` and `ready`.
    modelStatus: async (model, opts = {}) => getJson(
      `${path(() => v1ModelPath(model, selectorOf(opts.version)))}?format=kserve`,
      opts
    ),
    predict: async (model, request, opts = {}) => postJson(
      path(() => v1PredictPath(model, selectorOf(opts.version))),
      request,
      true,
      opts
    ),
    async infer(model, request, opts = {}) {
      const urlPath = path(() => v2InferPath(model, selectorOf(opts.version)));
      if (!opts.binary) return postJson(urlPath, request, true, opts);
      const { body, headerLength } = encodeBinaryInferRequest(request);
      const response = await call(
        {
          method: "POST",
          path: urlPath,
          body,
          contentType: "application/octet-stream",
          headers: { [INFERENCE_HEADER]: String(headerLength) },
          idempotent: true
        },
        opts
      );
      return decodeInferResponse(response.body, response.headers.get(INFERENCE_HEADER));
    },
    async classify(model, image, opts = {}) {
      const query = opts.top !== void 0 ? `?top=${encodeURIComponent(String(opts.top))}` : "";
      const response = await postImage(
        path(() => mscrClassifyPath(model, selectorOf(opts.version))) + query,
        image,
        opts
      );
      return parseJson(response, "POST");
    },
    async detect(model, image, opts = {}) {
      const params = new URLSearchParams();
      for (const key of ["threshold", "iou", "max"]) {
        const value = opts[key];
        if (value !== void 0) params.set(key, String(value));
      }
      const query = params.size > 0 ? `?${params.toString()}` : "";
      const response = await postImage(
        path(() => mscrDetectPath(model, selectorOf(opts.version))) + query,
        image,
        opts
      );
      return parseJson(response, "POST");
    },
    async forecast(model, csv, opts = {}) {
      const query = opts.order !== void 0 ? `?order=${encodeURIComponent(opts.order)}` : "";
      const response = await call(
        {
          method: "POST",
          path: path(() => mscrForecastPath(model, selectorOf(opts.version))) + query,
          body: csv,
          contentType: "text/csv",
          idempotent: true
        },
        opts
      );
      return parseJson(response, "POST");
    },
    async forecastSeries(model, csv, opts = {}) {
      const metadata = await client.modelMetadata(model, opts);
      const shape = metadata.inputs[0]?.shape ?? [];
      const window = shape[1];
      if (shape.length !== 3 || window === void 0 || window < 1) {
        throw new MscrClientError(
          "input",
          `model ${model} takes input of shape [${shape.join(", ")}], not a window of rows: it is not a forecaster`
        );
      }
      const order = opts.order ?? "oldest-first";
      const series = parseSeriesCsv(csv, order);
      let windows = slidingWindows(series, window);
      if (opts.maxWindows !== void 0 && opts.maxWindows < windows.length)
        windows = windows.slice(windows.length - Math.max(1, Math.floor(opts.maxWindows)));
      let done2 = 0;
      const { version: _version, onProgress, concurrency, ...callOptions } = opts;
      const answers = await mapLimit(windows, concurrency ?? 4, async (w) => {
        let answer;
        try {
          answer = await client.forecast(model, w.csv, {
            ...callOptions,
            ...opts.version !== void 0 ? { version: opts.version } : {},
            order: "oldest-first"
          });
        } catch (error) {
          throw inFileTerms(error, w);
        }
        onProgress?.(++done2, windows.length);
        return answer;
      });
      const first = answers[0];
      const target = targetColumnIndex(series, opts.targetColumn ?? first.target);
      const actual = columnValues(series, target.index);
      const points = [];
      answers.forEach((answer, i) => {
        const index = windows[i].index;
        const value = actual[index];
        const id = answer.predictionIds?.[0];
        points.push({
          index,
          ...value !== void 0 && Number.isFinite(value) ? { actual: value } : {},
          ...answer.forecast[0] !== void 0 ? { predicted: answer.forecast[0] } : {},
          ...id !== void 0 ? { predictionId: id } : {}
        });
      });
      const naive = points.map((p) => ({
        ...p.actual !== void 0 ? { actual: p.actual } : {},
        predicted: actual[p.index - 1]
      }));
      const modelRmse = rmse(points);
      const naiveRmse = rmse(naive);
      return {
        model: first.model,
        version: Math.max(...answers.map((a) => a.version)),
        target: first.target,
        window,
        targetGuessed: target.guessed,
        points,
        ...modelRmse !== void 0 ? { rmse: modelRmse } : {},
        ...naiveRmse !== void 0 ? { naiveRmse } : {}
      };
    },
    feedback: async (model, request, opts = {}) => {
      const { token, ...callOptions } = opts;
      return postJson(
        path(() => mscrFeedbackPath(model)),
        request,
        false,
        callOptions,
        token !== void 0 && token.trim() !== "" ? { headers: { authorization: `Bearer ${token.trim()}` } } : {}
      );
    },
    signals: async (model, opts = {}) => getJson(
      path(() => mscrSignalsPath(model)),
      opts
    ),
    async retrain(model, opts) {
      const { token, reason, ...callOptions } = opts;
      if (typeof token !== "string" || token.trim() === "") {
        throw new MscrClientError("input", "retraining needs the admin token");
      }
      const body = reason !== void 0 ? { reason } : {};
      return postJson(
        path(() => mscrRetrainPath(model)),
        body,
        false,
        callOptions,
        { headers: { authorization: `Bearer ${token.trim()}` } }
      );
    },
    async runs(model, opts = {}) {
      const { limit, ...callOptions } = opts;
      const query = limit !== void 0 ? `?limit=${encodeURIComponent(String(limit))}` : "";
      const body = await getJson(
        path(() => mscrRunsPath(model)) + query,
        callOptions
      );
      return Array.isArray(body) ? body : body.runs ?? [];
    }
  };
  return client;
}

// client/web/src/chart.ts
function escapeXml(text) {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]
  );
}
function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const range = max - min;
  const power = 10 ** Math.floor(Math.log10(range / Math.max(1, count)));
  const step = [1, 2, 5, 10].map((m) => m * power).sort((a, b) => Math.abs(range / a - count) - Math.abs(range / b - count))[0] ?? power;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}
function formatTick(value) {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
function lineChartSvg(points, options) {
  const width = options.width ?? 720;
  const height = options.height ?? 320;
  const pad = { left: 64, right: 16, top: 36, bottom: 44 };
  const values = points.flatMap(
    (p) => [p.actual, p.predicted].filter((v) => v !== void 0 && Number.isFinite(v))
  );
  const title = escapeXml(options.title);
  if (points.length === 0 || values.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}: no data"><text x="${width / 2}" y="${height / 2}" text-anchor="middle">No data to plot</text></svg>`;
  }
  const xs = points.map((p) => p.x);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  let yMin = Math.min(...values);
  let yMax = Math.max(...values);
  const margin = (yMax - yMin) * 0.05 || Math.abs(yMax) * 0.05 || 1;
  yMin -= margin;
  yMax += margin;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const sx = (x) => pad.left + (xMax === xMin ? plotW / 2 : (x - xMin) / (xMax - xMin) * plotW);
  const sy = (y) => pad.top + plotH - (y - yMin) / (yMax - yMin) * plotH;
  const line = (key) => {
    const segments = [];
    let current = [];
    for (const p of points) {
      const v = p[key];
      if (v === void 0 || !Number.isFinite(v)) {
        if (current.length > 0) segments.push(current.join(" "));
        current = [];
        continue;
      }
      current.push(`${sx(p.x).toFixed(1)},${sy(v).toFixed(1)}`);
    }
    if (current.length > 0) segments.push(current.join(" "));
    return segments;
  };
  const parts = [];
  const yTicks = niceTicks(yMin, yMax, 5);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}"/>`,
      `<text class="tick" x="${pad.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`
    );
  }
  for (const t of niceTicks(xMin, xMax, 6).filter((t2) => Number.isInteger(t2))) {
    const x = sx(t).toFixed(1);
    parts.push(
      `<line class="axis" x1="${x}" x2="${x}" y1="${pad.top + plotH}" y2="${pad.top + plotH + 4}"/>`,
      `<text class="tick" x="${x}" y="${pad.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`
    );
  }
  parts.push(
    `<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${pad.top + plotH}" y2="${pad.top + plotH}"/>`,
    `<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${pad.top + plotH}"/>`,
    `<text class="axis-name" x="${pad.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xName ?? "day")}</text>`,
    `<text class="axis-name" transform="translate(14 ${pad.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.valueName)}</text>`
  );
  for (const segment2 of line("actual"))
    parts.push(`<polyline class="series actual" points="${segment2}"/>`);
  for (const segment2 of line("predicted"))
    parts.push(`<polyline class="series predicted" points="${segment2}"/>`);
  const legendY = 18;
  const [first, second] = options.legend ?? [
    `actual ${options.valueName}`,
    `predicted ${options.valueName}`
  ];
  if (first !== "") {
    parts.push(
      `<line class="series actual" x1="${pad.left}" x2="${pad.left + 24}" y1="${legendY}" y2="${legendY}"/>`,
      `<text x="${pad.left + 30}" y="${legendY}" dominant-baseline="middle">${escapeXml(first)}</text>`
    );
  }
  if (second !== "") {
    parts.push(
      `<line class="series predicted" x1="${pad.left + 170}" x2="${pad.left + 194}" y1="${legendY}" y2="${legendY}"/>`,
      `<text x="${pad.left + 200}" y="${legendY}" dominant-baseline="middle">${escapeXml(second)}</text>`
    );
  }
  const description = `${points.length} ${options.unit ?? "days"} from ${formatTick(xMin)} to ${formatTick(xMax)}; values from ${formatTick(Math.min(...values))} to ${formatTick(Math.max(...values))}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}. ${escapeXml(description)}"><title>${title}</title>${parts.join("")}</svg>`;
}

// client/web/src/detect.ts
var PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6"];
function colourOf(classIndex) {
  return PALETTE[classIndex % PALETTE.length];
}
function percent(score) {
  return `${(score * 100).toFixed(1)} %`;
}
async function drawDetections(canvas, image, answer) {
  const bitmap = await createImageBitmap(image, { imageOrientation: "from-image" });
  const { width, height } = answer.image;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  if (context === null) return;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const line = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 30));
  context.font = `${font}px system-ui, sans-serif`;
  context.textBaseline = "top";
  for (const d of [...answer.detections].reverse()) {
    const [x, y, w, h] = d.box;
    const colour = colourOf(d.classIndex);
    context.lineWidth = line;
    context.strokeStyle = colour;
    context.strokeRect(x + line / 2, y + line / 2, Math.max(0, w - line), Math.max(0, h - line));
    const text = `${d.label} ${percent(d.score)}`;
    const textWidth = context.measureText(text).width + 6;
    const top = y - font - 4 >= 0 ? y - font - 4 : y;
    context.fillStyle = colour;
    context.fillRect(x, top, textWidth, font + 4);
    context.fillStyle = "#ffffff";
    context.fillText(text, x + 3, top + 2);
  }
  canvas.setAttribute(
    "aria-label",
    `the image with ${answer.detections.length} box${answer.detections.length === 1 ? "" : "es"} drawn`
  );
  canvas.dataset.boxes = String(answer.detections.length);
}
function detectionItems(answer) {
  return answer.detections.map((d) => ({
    text: `${d.label} ${percent(d.score)} at x ${Math.round(d.box[0])}, y ${Math.round(d.box[1])}, ${Math.round(d.box[2])}×${Math.round(d.box[3])}`,
    colour: colourOf(d.classIndex)
  }));
}
function boxesJson(answer) {
  const boxes = answer.detections.map((d) => ({ box: d.box, label: d.label }));
  return JSON.stringify(boxes);
}
function parseBoxesText(text) {
  let json;
  try {
    json = JSON.parse(text.trim() === "" ? "[]" : text);
  } catch (error) {
    throw new Error(`the boxes are not JSON: ${error.message}`);
  }
  if (!Array.isArray(json)) {
    throw new Error('the boxes must be a list: [{"box": [x, y, width, height], "label": "..."}]');
  }
  return json;
}

// client/web/src/rollout.ts
async function fetchRollout(baseUrl, model, token) {
  const response = await fetch(
    new URL(`mscr/models/${encodeURIComponent(model)}/rollout`, baseUrl),
    {
      headers: { Authorization: `Bearer ${token}` }
    }
  );
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`the service answered ${response.status}: ${body.error ?? ""}`);
  return body;
}
var show = (value, format) => value === null ? "–" : format(value);
var pct = (v) => `${(v * 100).toFixed(1)} %`;
var ms = (v) => `${v.toFixed(1)} ms`;
function rolloutRows(view) {
  const live = view.live?.figures;
  if (view.rollout === null || live === void 0) return [];
  const { stable, candidate } = live;
  return [
    ["version", `${view.rollout.stable} (stable)`, `${view.rollout.candidate} (candidate)`],
    ["requests", String(stable.requests), String(candidate.requests)],
    ["error rate", pct(stable.errorRate), pct(candidate.errorRate)],
    ["p99 latency", show(stable.p99Ms, ms), show(candidate.p99Ms, ms)],
    [
      "feedback accuracy",
      `${show(stable.accuracy, pct)} (${stable.feedback})`,
      `${show(candidate.accuracy, pct)} (${candidate.feedback})`
    ],
    ["prediction PSI", "", show(live.psi, (v) => v.toFixed(3))],
    ["shadow agreement", "", show(live.agreement, pct)]
  ];
}
function rolloutSummary(view) {
  const r = view.rollout;
  if (r === null) return `${view.model} has no rollout.`;
  const share = r.mode === "canary" ? ` at ${r.weight} %` : "";
  const now = view.live === null ? "" : ` Now: ${view.live.decision} (${view.live.reason}).`;
  return `${r.phase} ${r.mode}${share}: version ${r.candidate} against ${r.stable}${r.reason ? ` (${r.reason})` : ""}.${now}`;
}

// client/web/src/training.ts
function lossCurve(entries) {
  return entries.filter((e) => e.type === "epoch").map((e, i) => ({ x: i + 1, actual: e.loss }));
}
function progressLines(entries, report) {
  const lines = entries.flatMap((e) => {
    if (e.type !== "trial") return [];
    const metrics = Object.entries(e.record.metrics ?? {}).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", ");
    return [
      `trial ${e.record.trial} ${JSON.stringify(e.record.hyperparameters)}: ${e.record.error ?? metrics}`
    ];
  });
  if (report !== void 0) {
    lines.push(
      `${report.outcome}${report.message ? `: ${report.message}` : ""}${report.published ? ` (version ${report.published.version})` : ""}`
    );
  }
  return lines;
}
async function followTraining(client, id, token, figure, list, signal) {
  const entries = [];
  let report;
  const draw = () => {
    figure.hidden = false;
    figure.innerHTML = lineChartSvg(lossCurve(entries), {
      title: `Training loss of run ${id}`,
      valueName: "loss",
      xName: "epoch (all trials in order)",
      legend: ["training loss", ""],
      unit: "epochs"
    });
    list.innerHTML = progressLines(entries, report).map((line) => `<li>${escapeXml(line)}</li>`).join("");
  };
  draw();
  for await (const event of client.trainEvents(id, { token, ...signal ? { signal } : {} })) {
    if (event.event === "report") report = event.data;
    else entries.push(event.data);
    draw();
  }
}

// client/web/src/main.ts
var state = { labels: [], generation: 0 };
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === void 0 || child === false) continue;
    element.append(child);
  }
  return element;
}
var percent2 = (score) => `${(score * 100).toFixed(1)} %`;
var number = (value, digits = 2) => value === void 0 || !Number.isFinite(value) ? "–" : value.toFixed(digits);
function describeError(error) {
  if (isMscrClientError(error)) {
    const server = error.serverMessage ?? error.message;
    switch (error.kind) {
      case "http":
        if (error.httpStatus === 401 || error.httpStatus === 403)
          return `the service refused the admin token (${error.httpStatus}): ${server}`;
        if (error.httpStatus === 501) return `the service does not offer this (501): ${server}`;
        if (error.httpStatus === 503) return `the service cannot answer right now (503): ${server}`;
        return `the service answered ${error.httpStatus}: ${server}`;
      case "network":
        return "cannot reach the service: is it still running?";
      case "timeout":
        return "the service did not answer in time";
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}
function showError(container, what, error) {
  container.removeAttribute("aria-busy");
  container.replaceChildren(
    el("p", { class: "error", role: "alert" }, `${what}: ${describeError(error)}`)
  );
}
function busy(container, text) {
  container.setAttribute("aria-busy", "true");
  container.replaceChildren(el("p", { class: "pending" }, text));
}
function done(container, ...children) {
  container.removeAttribute("aria-busy");
  container.replaceChildren(
    ...children.filter((c) => c !== void 0 && c !== false)
  );
}
function kindOf(metadata) {
  const shape = metadata.inputs[0]?.shape ?? [];
  if (looksLikeDetector(metadata)) return "detector";
  if (shape.length === 4) return "image";
  if (shape.length === 3) return "series";
  return "other";
}
function versionOption() {
  return state.version ? { version: state.version } : {};
}
async function loadServer(client) {
  const status = byId("server-status");
  try {
    const [server, ready] = await Promise.all([client.serverMetadata(), client.ready()]);
    status.textContent = `${server.name} ${server.version} · ${ready ? "ready" : "not ready: models are still loading"}`;
    status.dataset.ready = String(ready);
  } catch (error) {
    status.textContent = "not connected";
    const pageError = byId("page-error");
    pageError.textContent = `Cannot talk to the service: ${describeError(error)}`;
    pageError.hidden = false;
    throw error;
  }
}
async function loadModels(client) {
  const select = byId("model-select");
  const models = await client.listModels();
  select.replaceChildren(...models.map((m) => el("option", { value: m }, m)));
  select.disabled = models.length === 0;
  if (models.length === 0) {
    select.append(el("option", { value: "" }, "no models served"));
    byId("model-info").textContent = "The service serves no models yet.";
    return;
  }
  const wanted = new URLSearchParams(location.search).get("model");
  const first = wanted !== null && models.includes(wanted) ? wanted : models[0];
  select.value = first;
  await selectModel(client, first);
}
function metricsText(metrics) {
  if (metrics === void 0) return "–";
  const entries = Object.entries(metrics);
  if (entries.length === 0) return "–";
  return entries.slice(0, 4).map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(4)}`).join(", ");
}
function metricsByVersion(runs) {
  const found = /* @__PURE__ */ new Map();
  for (const run of [...runs].reverse()) {
    if (run.baseline) found.set(run.baseline.version, run.baseline.metrics);
    if (run.published && run.candidate) found.set(run.published.version, run.candidate.metrics);
  }
  return found;
}
function renderVersions(status, metrics) {
  const versions = status.model_version_status.map((v) => ({
    version: Number(v.version),
    state: v.status.error_code !== "OK" && v.state === "END" ? "FAILED" : v.state,
    error: v.status.error_code !== "OK" ? v.status.error_message : ""
  }));
  const available = versions.filter((v) => v.state === "AVAILABLE").map((v) => v.version);
  const serving = available.length > 0 ? Math.max(...available) : void 0;
  const body = byId("versions-body");
  if (versions.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "4" }, "no version loaded yet")));
    return;
  }
  body.replaceChildren(
    ...versions.map(
      (v) => el(
        "tr",
        v.version === serving ? { class: "serving" } : {},
        el("th", { scope: "row" }, String(v.version)),
        el(
          "td",
          { class: `state state-${v.state.toLowerCase()}` },
          v.state,
          v.error ? ` – ${v.error}` : ""
        ),
        el("td", {}, v.version === serving ? "serving" : ""),
        el("td", {}, metricsText(metrics.get(v.version)))
      )
    )
  );
  const versionSelect = byId("version-select");
  const previous = versionSelect.value;
  versionSelect.replaceChildren(
    el("option", { value: "" }, "the serving version"),
    ...available.sort((a, b) => b - a).map((v) => el("option", { value: String(v) }, `version ${v}`))
  );
  versionSelect.value = available.map(String).includes(previous) ? previous : "";
  state.version = versionSelect.value || void 0;
}
function renderRuns(runs, problem) {
  const body = byId("runs-body");
  if (runs === void 0 || runs.length === 0) {
    body.replaceChildren(
      el("tr", {}, el("td", { colspan: "6" }, problem ?? "no retraining runs yet"))
    );
    return;
  }
  body.replaceChildren(
    ...runs.slice(0, 10).map(
      (run) => el(
        "tr",
        {},
        el("th", { scope: "row" }, run.id),
        el("td", {}, run.trigger.kind, run.trigger.reason ? `: ${run.trigger.reason}` : ""),
        el("td", {}, new Date(run.startedAt).toLocaleString()),
        el("td", { class: `outcome outcome-${run.outcome}` }, run.outcome),
        el(
          "td",
          {},
          run.published ? `version ${run.published.version}${run.published.alias ? ` (${run.published.alias})` : ""}` : "–"
        ),
        el("td", {}, run.message ?? "")
      )
    )
  );
}
async function refreshModelDetails(client, model) {
  const generation = state.generation;
  const [status, runs, signals] = await Promise.allSettled([
    client.modelStatus(model),
    client.runs(model, { retries: 0 }),
    client.signals(model, { retries: 0 })
  ]);
  if (generation !== state.generation) return;
  const runList = runs.status === "fulfilled" ? runs.value : void 0;
  if (status.status === "fulfilled") renderVersions(status.value, metricsByVersion(runList ?? []));
  else showError(byId("model-info"), `Cannot read the versions of ${model}`, status.reason);
  renderRuns(
    runList,
    runs.status === "rejected" ? `runs unavailable: ${describeError(runs.reason)}` : void 0
  );
  const signalsInfo = byId("signals-info");
  if (signals.status === "fulfilled") {
    const s = signals.value;
    const accuracy = s.feedback.accuracy !== void 0 ? `, accuracy on feedback ${percent2(s.feedback.accuracy)}` : "";
    signalsInfo.textContent = `Since ${new Date(s.since).toLocaleString()}: ${s.predictions} predictions, ${s.feedback.count} feedback${accuracy}.`;
  } else {
    signalsInfo.textContent = "";
  }
}
async function selectModel(client, model) {
  state.generation++;
  const generation = state.generation;
  state.model = model;
  state.labels = [];
  byId("label-options").replaceChildren();
  byId("classify-result").replaceChildren();
  byId("detect-canvas").hidden = true;
  byId("forecast-result").replaceChildren();
  byId("feedback-result").replaceChildren();
  byId("chart").hidden = true;
  const info = byId("model-info");
  busy(info, `Reading ${model}…`);
  let metadata;
  try {
    metadata = await client.modelMetadata(model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(info, `Cannot read model ${model}`, error);
    for (const id of ["classify-section", "forecast-section", "feedback-section"])
      byId(id).hidden = true;
    await refreshModelDetails(client, model);
    return;
  }
  if (generation !== state.generation) return;
  const kind = kindOf(metadata);
  state.kind = kind;
  const input = metadata.inputs[0];
  const what = kind === "image" ? `an image classifier (input ${input?.shape.slice(1, 3).join("×")} pixels)` : kind === "detector" ? "an object detector (it draws boxes on the image)" : kind === "series" ? `a forecaster (a window of ${input?.shape[1]} days of ${input?.shape[2]} columns)` : `a model with input ${input?.name} [${input?.shape.join(", ")}]`;
  done(info, `${model} is ${what}, versions ${metadata.versions?.join(", ") || "–"}.`);
  const images = kind === "image" || kind === "detector";
  byId("classify-section").hidden = !images;
  byId("classify-heading").textContent = kind === "detector" ? "Find objects in an image" : "Classify an image";
  byId("forecast-section").hidden = kind !== "series";
  byId("feedback-section").hidden = kind === "other";
  byId("retrain-section").hidden = false;
  byId("feedback-label-field").hidden = kind !== "image";
  byId("feedback-actual-field").hidden = kind !== "series";
  byId("feedback-label").required = kind === "image";
  byId("feedback-actual").required = kind === "series";
  byId("feedback-boxes-field").hidden = kind !== "detector";
  await refreshModelDetails(client, model);
}
var previewUrl;
function renderClassification(file, answer) {
  const scores = answer.predictions[0] ?? [];
  state.labels = scores.map((s) => s.label).sort();
  byId("label-options").replaceChildren(...state.labels.map((l) => el("option", { value: l })));
  const top = scores[0];
  const id = answer.predictionIds?.[0];
  const list = el("ol", { class: "bars", "aria-label": "top classes" });
  for (const s of scores.slice(0, 5)) {
    const bar = el("span", { class: "bar", "aria-hidden": "true" });
    bar.style.setProperty("--score", String(Math.max(0, Math.min(1, s.score))));
    list.append(
      el(
        "li",
        { "data-label": s.label, "data-score": String(s.score) },
        el("span", { class: "bar-label" }, s.label),
        el("span", { class: "bar-track", "aria-hidden": "true" }, bar),
        el("span", { class: "bar-value" }, percent2(s.score))
      )
    );
  }
  done(
    byId("classify-result"),
    el(
      "p",
      { class: "verdict" },
      `${file.name}: `,
      top ? el("strong", { id: "top-label" }, top.label) : "no class",
      top ? ` (${percent2(top.score)})` : "",
      ` by ${answer.model} version ${answer.version}`
    ),
    list,
    id !== void 0 && el("p", { class: "hint" }, "Prediction id ", el("code", {}, id))
  );
  if (id !== void 0) {
    byId("feedback-id").value = id;
    byId("feedback-label").value = "";
  }
}
async function classifyFile(client, file) {
  const model = state.model;
  if (model === void 0) return;
  const generation = state.generation;
  const result = byId("classify-result");
  const preview = byId("image-preview");
  if (previewUrl !== void 0) URL.revokeObjectURL(previewUrl);
  previewUrl = void 0;
  preview.hidden = true;
  if (file.type.startsWith("image/")) {
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.alt = `the chosen image, ${file.name}`;
    preview.hidden = false;
  }
  byId("detect-canvas").hidden = true;
  if (state.kind === "detector") {
    await detectFile(client, model, file, generation);
    return;
  }
  busy(result, `Classifying ${file.name}…`);
  try {
    const answer = await client.classify(model, file, { top: 1e3, ...versionOption() });
    if (generation !== state.generation) return;
    renderClassification(file, answer);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(result, `Cannot classify ${file.name}`, error);
  }
}
function renderDetections(file, answer) {
  const count = answer.detections.length;
  const list = el("ol", { class: "detections", "aria-label": "objects found" });
  for (const item of detectionItems(answer)) {
    const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = item.colour;
    list.append(el("li", {}, swatch, item.text));
  }
  done(
    byId("classify-result"),
    el(
      "p",
      { class: "verdict" },
      `${file.name} (${answer.image.width}×${answer.image.height}): `,
      el("strong", { id: "detect-count" }, `${count} object${count === 1 ? "" : "s"}`),
      ` found by ${answer.model} version ${answer.version}`
    ),
    list,
    el("p", { class: "hint" }, "Prediction id ", el("code", {}, answer.id))
  );
  byId("feedback-id").value = answer.id;
  byId("feedback-boxes").value = boxesJson(answer);
}
async function detectFile(client, model, file, generation) {
  const result = byId("classify-result");
  busy(result, `Looking for objects in ${file.name}…`);
  try {
    const answer = await client.detect(model, file, versionOption());
    if (generation !== state.generation) return;
    const canvas = byId("detect-canvas");
    await drawDetections(canvas, file, answer);
    byId("image-preview").hidden = true;
    canvas.hidden = false;
    renderDetections(file, answer);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(result, `Cannot find objects in ${file.name}`, error);
  }
}
function renderForecast(file, series) {
  const points = series.points.map((p) => ({
    x: p.index + 1,
    ...p.actual !== void 0 ? { actual: p.actual } : {},
    ...p.predicted !== void 0 ? { predicted: p.predicted } : {}
  }));
  const figure = byId("chart");
  figure.innerHTML = lineChartSvg(points, {
    title: `Actual and predicted ${series.target}, ${file.name}`,
    valueName: series.target,
    xName: `day (row of ${file.name}, oldest first)`
  });
  const next = series.points.at(-1);
  const rows = series.points.map(
    (p) => el(
      "tr",
      {},
      el("th", { scope: "row" }, String(p.index + 1)),
      el("td", {}, number(p.actual)),
      el("td", {}, number(p.predicted))
    )
  );
  figure.append(
    el(
      "figcaption",
      {},
      `Actual ${series.target} (blue) and the forecast of ${series.model} version ${series.version} (orange), one forecast per day from the ${series.window} days before it.`
    ),
    el(
      "details",
      {},
      el("summary", {}, "The numbers"),
      el(
        "table",
        { class: "data" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", { scope: "col" }, "Day"),
            el("th", { scope: "col" }, `Actual ${series.target}`),
            el("th", { scope: "col" }, "Predicted")
          )
        ),
        el("tbody", {}, ...rows)
      )
    )
  );
  figure.hidden = false;
  done(
    byId("forecast-result"),
    el(
      "p",
      { class: "verdict", id: "forecast-summary" },
      `${series.points.length} forecasts of ${series.target} by ${series.model} version ${series.version}. `,
      series.rmse !== void 0 ? `RMSE ${number(series.rmse)}; the naive "tomorrow = today" forecast: ${number(series.naiveRmse)}. ` : "",
      next?.actual === void 0 && next?.predicted !== void 0 ? `Next day: ${number(next.predicted)}.` : ""
    ),
    series.targetGuessed && el(
      "p",
      { class: "hint" },
      `No column of the CSV is named ${series.target}, so its last column was taken as the actual value.`
    )
  );
  const id = next?.predictionId;
  if (id !== void 0) byId("feedback-id").value = id;
}
async function forecastFile(client) {
  const model = state.model;
  const file = byId("csv-input").files?.[0];
  const result = byId("forecast-result");
  if (model === void 0) return;
  if (file === void 0) {
    showError(result, "Nothing to forecast", new Error("choose a CSV file first"));
    return;
  }
  const generation = state.generation;
  const days = Number(byId("csv-days").value) || 120;
  const order = byId("csv-order").value;
  const progress = byId("forecast-progress");
  const button = byId("forecast-button");
  progress.value = 0;
  progress.hidden = false;
  button.disabled = true;
  busy(result, `Forecasting ${file.name}…`);
  try {
    const text = await file.text();
    const series = await client.forecastSeries(model, text, {
      order,
      maxWindows: days,
      concurrency: 4,
      ...versionOption(),
      onProgress: (n, total) => {
        progress.max = total;
        progress.value = n;
      }
    });
    if (generation !== state.generation) return;
    renderForecast(file, series);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    byId("chart").hidden = true;
    showError(result, `Cannot forecast ${file.name}`, error);
  } finally {
    progress.hidden = true;
    button.disabled = false;
  }
}
async function sendFeedback(client) {
  const model = state.model;
  if (model === void 0) return;
  const result = byId("feedback-result");
  const predictionId = byId("feedback-id").value.trim();
  const label = byId("feedback-label").value.trim();
  const actual = byId("feedback-actual").value.trim();
  busy(result, "Sending feedback…");
  try {
    const token = byId("feedback-token").value.trim();
    const truth = state.kind === "detector" ? { boxes: parseBoxesText(byId("feedback-boxes").value) } : state.kind === "image" ? { label } : { actual: Number(actual) };
    const answer = await client.feedback(
      model,
      {
        predictionId,
        ...truth
      },
      token !== "" ? { token } : {}
    );
    const verdict = answer.correct === void 0 ? "" : answer.correct ? " The prediction was right." : " The prediction was wrong.";
    const held = answer.quarantined ? " It waits for a review before retraining uses it." : "";
    done(
      result,
      el("p", { class: "ok" }, `Thank you: feedback ${answer.id} recorded.${verdict}${held}`)
    );
    void refreshModelDetails(client, model);
  } catch (error) {
    showError(result, "Feedback not recorded", error);
  }
}
async function triggerRetraining(client) {
  const model = state.model;
  if (model === void 0) return;
  const result = byId("retrain-result");
  const token = byId("admin-token").value;
  const reason = byId("retrain-reason").value.trim();
  busy(result, `Starting a retraining run of ${model}…`);
  try {
    const answer = await client.retrain(model, {
      token,
      reason: reason || "requested from the web page"
    });
    done(result, el("p", { class: "ok" }, `Run ${answer.runId} started for ${answer.model}.`));
    await refreshModelDetails(client, model);
    const list = byId("training-progress");
    try {
      await followTraining(
        client,
        `${answer.model}~${answer.runId}`,
        token,
        byId("training-chart"),
        list
      );
    } catch (error) {
      showError(list, "The progress stream stopped", error);
    }
    await refreshModelDetails(client, model);
  } catch (error) {
    showError(result, "Retraining not started", error);
  }
}
async function showRollout() {
  const model = state.model;
  const result = byId("rollout-result");
  const token = byId("admin-token").value.trim();
  if (model === void 0) return;
  if (token === "") {
    done(result, el("p", { class: "error", role: "alert" }, "Enter the admin token first."));
    return;
  }
  busy(result, `Reading the rollout of ${model}…`);
  try {
    const view = await fetchRollout(new URL(".", document.baseURI).href, model, token);
    const rows = rolloutRows(view);
    done(
      result,
      el("p", {}, rolloutSummary(view)),
      rows.length > 0 && el(
        "table",
        { class: "data" },
        el("caption", {}, "This replica's window of the current step"),
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["Figure", "Stable", "Candidate"].map((h) => el("th", { scope: "col" }, h))
          )
        ),
        el(
          "tbody",
          {},
          ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, cell))))
        )
      ),
      view.decisions.length > 0 && el(
        "ul",
        {},
        ...view.decisions.slice(0, 5).map(
          (d) => el(
            "li",
            {},
            `${new Date(d.at).toLocaleString()} ${d.decision} by ${d.by}: ${d.reason}`
          )
        )
      )
    );
  } catch (error) {
    showError(result, "Cannot read the rollout", error);
  }
}
function wire(client) {
  byId("model-select").addEventListener("change", (event) => {
    void selectModel(client, event.target.value);
  });
  byId("version-select").addEventListener("change", (event) => {
    state.version = event.target.value || void 0;
  });
  byId("refresh-button").addEventListener("click", () => {
    if (state.model !== void 0) void refreshModelDetails(client, state.model);
    void loadServer(client).catch(() => void 0);
  });
  const imageInput = byId("image-input");
  imageInput.addEventListener("change", () => {
    const file = imageInput.files?.[0];
    if (file !== void 0) void classifyFile(client, file);
  });
  const zone = byId("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer?.files[0];
    if (file !== void 0) void classifyFile(client, file);
  });
  byId("forecast-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void forecastFile(client);
  });
  byId("feedback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void sendFeedback(client);
  });
  byId("retrain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void triggerRetraining(client);
  });
  byId("rollout-button").addEventListener("click", () => void showRollout());
}
async function start() {
  const client = createClient({ baseUrl: new URL(".", document.baseURI).href, timeoutMs: 3e4 });
  wire(client);
  try {
    await loadServer(client);
    await loadModels(client);
  } catch (error) {
    const pageError = byId("page-error");
    if (pageError.hidden) {
      pageError.textContent = `Cannot load the models: ${describeError(error)}`;
      pageError.hidden = false;
    }
  }
  document.body.dataset.loaded = "true";
}
void start();
export {
  describeError
};
