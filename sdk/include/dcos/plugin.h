/*
 * dcos plugin ABI, major version 1.
 *
 * A plugin is a shared object that exports exactly one entry function per ABI
 * major it supports:
 *
 *     const dcos_plugin_v1 *dcos_plugin_entry_v1(void);
 *
 * dcosd loads it with dlopen(RTLD_NOW | RTLD_LOCAL) and checks, in this order:
 * the entry symbol, abi_major, struct_size, the kind allowed in that place (a
 * role where a role is expected, a module where a module is), and that no
 * other plugin of the same name is loaded. Every failure is one line naming
 * the file and the reason. A breaking change adds dcos_plugin_entry_v2, so a
 * plugin built for another major fails cleanly at dlsym.
 *
 * Compatibility: fields are only ever appended to the structs below. Each
 * struct starts with its size; the reader of a struct checks struct_size
 * before touching a field that may be newer than the writer.
 *
 * Errors: functions return 0 on success or a negative errno value. Where the
 * caller passes (err, err_len), the plugin writes a NUL-terminated, lowercase,
 * one-line message there on failure. No C++ exception may cross this boundary.
 *
 * Ownership: every string the host passes is owned by the host and valid for
 * the duration of the call only, unless stated otherwise. Every string the
 * plugin returns through the descriptor is owned by the plugin and stays valid
 * until destroy() (or, for descriptor fields, while the library is loaded;
 * dcosd never unloads a plugin library while it runs).
 *
 * Threading: create, start, stop and destroy are called from one host thread,
 * never concurrently for one instance. Host services may be called from any
 * thread the plugin owns, at any time between create() and the return of
 * destroy().
 *
 * This header is C99 and depends on <stdint.h> and <stddef.h> only.
 */
#ifndef DCOS_PLUGIN_H
#define DCOS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCOS_ABI_MAJOR 1
#define DCOS_PLUGIN_ENTRY_V1 "dcos_plugin_entry_v1"

/* What a plugin is. A role decides what a node is; a module is a part of it. */
typedef enum dcos_plugin_kind {
  DCOS_PLUGIN_ROLE = 1,
  DCOS_PLUGIN_MODULE = 2
} dcos_plugin_kind;

typedef enum dcos_log_level {
  DCOS_LOG_ERROR = 3,
  DCOS_LOG_WARNING = 4,
  DCOS_LOG_NOTICE = 5,
  DCOS_LOG_INFO = 6,
  DCOS_LOG_DEBUG = 7
} dcos_log_level; /* the syslog priorities, so journald shows them as they are */

typedef enum dcos_health {
  DCOS_HEALTH_HEALTHY = 0,
  DCOS_HEALTH_DEGRADED = 1,
  DCOS_HEALTH_UNHEALTHY = 2
} dcos_health;

/* Zones, as a mask for dcos_host_v1::open_port. */
#define DCOS_ZONE_ADMIN 1u
#define DCOS_ZONE_PRIVATE 2u
#define DCOS_ZONE_PUBLIC 4u
#define DCOS_ZONE_ALL (DCOS_ZONE_ADMIN | DCOS_ZONE_PRIVATE | DCOS_ZONE_PUBLIC)

/* IP protocol numbers. */
typedef enum dcos_proto {
  DCOS_PROTO_TCP = 6,
  DCOS_PROTO_UDP = 17
} dcos_proto;

/* An HTTP request the node API hands to a module's route. Owned by the
 * host; valid during the handler call. */
typedef struct dcos_http_request {
  uint32_t struct_size;
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* without the query, e.g. "/exhibitor/v1/cluster/status" */
  const char *query;  /* after '?', "" when none */
  const char *body;
  size_t body_len;
  /* Appended (check struct_size before use): the header fields as sent, in
   * order, as 2 * header_count strings: name0, value0, name1, value1, ... */
  const char *const *headers;
  size_t header_count;
  const char *peer; /* the client's address, e.g. "172.31.254.254" */
} dcos_http_request;

/* A response body that goes on after the handler returned (a server-sent
 * event stream, the tail of a log). Owned by the host; valid from
 * open_stream until the plugin calls close, which it must do exactly once,
 * and before its stop() returns. Safe to use from any thread. A stream holds
 * no node API thread: write queues the data and returns at once. */
typedef struct dcos_http_stream {
  uint32_t struct_size;
  void *ctx;
  /* Sends data to the client. 0, or -EPIPE once the client is gone, or fell
   * so far behind that the host closed the connection: stop writing, and
   * close. */
  int (*write)(void *ctx, const char *data, size_t len);
  /* Ends the response and frees the stream. */
  void (*close)(void *ctx);
} dcos_http_stream;

/* How a handler answers. Call set_status and set_header before the first
 * write; the default status is 200 and the content type application/json. */
typedef struct dcos_http_response {
  uint32_t struct_size;
  void *ctx;
  void (*set_status)(void *ctx, int status);
  void (*set_header)(void *ctx, const char *name, const char *value);
  void (*write)(void *ctx, const char *data, size_t len);
  /* Appended (check struct_size before use): answers with a stream instead of a
   * body. Call set_status and set_header first, then return from the
   * handler; the status and headers go out then, and whatever is written to
   * the stream follows (chunked). What the handler wrote with write() is
   * dropped. NULL when the host cannot stream. */
  dcos_http_stream *(*open_stream)(void *ctx);
} dcos_http_response;

/* Called on a node API thread, possibly on several at once. */
typedef void (*dcos_http_handler)(void *user, const dcos_http_request *request, const dcos_http_response *response);

/*
 * Services the host offers a plugin. One table per plugin instance; `ctx` is
 * the host's and must be passed back unchanged. The table is owned by the host
 * and valid from create() until destroy() returns. Every service is safe to
 * call from any thread.
 */
typedef struct dcos_host_v1 {
  uint32_t struct_size;
  uint32_t abi_major;
  void *ctx;

  /* Logs one message (no trailing newline needed) with the plugin's name and
   * the node's role attached as structured fields. */
  void (*log)(void *ctx, dcos_log_level level, const char *message);

  /* This node's identity as a JSON object: role, zone, address, hostname,
   * cluster_name, resource_role, attributes, api (the node API's
   * "address:port" where other nodes reach it and the plugins' routes: a
   * wildcard listener given as the node's address). Owned by the host;
   * valid until destroy(). */
  const char *(*node_json)(void *ctx);

  /* A directory this plugin instance owns for node-local state, created by
   * the host before create(). Owned by the host; valid until destroy(). */
  const char *(*state_dir)(void *ctx);

  /* Tells the host how this instance is doing; shown in /health and
   * /metrics. `message` may be NULL. A module that never calls it counts as
   * healthy once start() returned 0. */
  void (*report_health)(void *ctx, dcos_health health, const char *message);

  /* Exposes `port` of `proto` (a dcos_proto) on this node the way the node's
   * zone exposes ports, if the node's zone is in `zones` (DCOS_ZONE_* mask):
   * on masters to the operators' networks, on public agents to anyone. Inside
   * the cluster every port is open anyway, so on private agents this does
   * nothing. The firewall changes atomically, before the call returns.
   * Reference counted: each successful open_port is undone by one close_port.
   * With the firewall disabled, succeeds and does nothing. From start() on:
   * during create() the firewall is not applied yet (-EAGAIN). 0 or a
   * negative errno with a message in err. */
  int (*open_port)(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t err_len);
  int (*close_port)(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t err_len);

  /* The cluster's validated configuration as a JSON object (cluster.json
   * with defaults filled in). Owned by the host; valid until destroy(). */
  const char *(*cluster_json)(void *ctx);

  /* Serves every node API request whose path is `prefix` or starts with
   * `prefix` + "/" (e.g. "/exhibitor"), from the moment start() returns 0
   * until stop() is called (or its start fails). A prefix belongs to one
   * plugin. Refused once the instance is stopping or has failed. 0 or a
   * negative errno with a message. */
  int (*http_route)(void *ctx, const char *prefix, dcos_http_handler handler, void *user, char *err,
                    size_t err_len);

  /* Stands this instance for the cluster-wide election `name` (one leader
   * among every node whose instance stands for it). on_change(user, 1) when
   * it wins, (user, 0) when it loses; called on a host thread, only on
   * changes. The host keeps standing through connection loss and session
   * expiry, and resigns for the instance before its stop(), so a graceful
   * stop hands over at once; a crashed node's leadership ends within the
   * ZooKeeper session timeout. Once resign() returns (or the host resigns
   * for the instance), on_change is not called again: a leader that resigns
   * is not told it lost. Refused (-ESHUTDOWN) once the instance is stopping
   * or has failed. 0 or a negative errno with a message. */
  int (*stand_for_election)(void *ctx, const char *name, void (*on_change)(void *user, int is_leader), void *user,
                            char *err, size_t err_len);
  void (*resign)(void *ctx, const char *name);
} dcos_host_v1;

/*
 * The plugin's descriptor, returned by the entry function. Static storage,
 * owned by the plugin, valid while the library is loaded.
 */
typedef struct dcos_plugin_v1 {
  uint32_t struct_size; /* sizeof(dcos_plugin_v1) as the plugin saw it */
  uint32_t abi_major;   /* DCOS_ABI_MAJOR as the plugin saw it */
  uint32_t kind;        /* a dcos_plugin_kind */
  uint32_t reserved;    /* zero */
  const char *name;     /* [a-z0-9-]+, unique on a node */
  const char *version;  /* the plugin's own version, e.g. "1.2.0" */
  const char *description;

  /* Makes an instance from its configuration (a JSON object; for a role, the
   * node's whole validated configuration: {"cluster": ..., "node": ...}).
   * Must not start threads that outlive a failed create(). On success stores
   * the instance in *instance and returns 0; on failure leaves *instance
   * untouched, writes a message to err and returns a negative errno. */
  int (*create)(const dcos_host_v1 *host, const char *config_json,
                void **instance, char *err, size_t err_len);

  /* Starts the instance's work. Returns promptly: long-running work belongs on
   * the plugin's own threads. 0 or a negative errno with a message. */
  int (*start)(void *instance, char *err, size_t err_len);

  /* Stops the work started by start(). Called once, only after a successful
   * start(), in reverse start order across modules. Should return within a few
   * seconds: dcosd gives the whole shutdown a deadline. */
  void (*stop)(void *instance);

  /* Frees the instance. Called once, after stop() if start() succeeded. */
  void (*destroy)(void *instance);

  /* Roles only (NULL for modules): the role's manifest as a JSON object, see
   * docs/plugins.md. Owned by the instance; valid until destroy(). */
  const char *(*role_manifest)(void *instance);
} dcos_plugin_v1;

/* The signature of the entry function a plugin exports. */
typedef const dcos_plugin_v1 *(*dcos_plugin_entry_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* DCOS_PLUGIN_H */
