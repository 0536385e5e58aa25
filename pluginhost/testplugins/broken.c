/* Deliberately broken plugins for the loader's tests. One source, one
 * variant per BROKEN_* definition; each is built as its own .so. */
#include <dcos/plugin.h>

#include <errno.h>
#include <stdio.h>

__attribute__((unused)) static int create_ok(const dcos_host_v1 *host, const char *config, void **instance, char *err, size_t len) {
  (void)host; (void)config; (void)err; (void)len;
  static int token;
  *instance = &token;
  return 0;
}

__attribute__((unused)) static int create_fails(const dcos_host_v1 *host, const char *config, void **instance, char *err, size_t len) {
  (void)host; (void)config; (void)instance;
  snprintf(err, len, "/listen: address already in use");
  return -EADDRINUSE;
}

__attribute__((unused)) static int start_ok(void *instance, char *err, size_t len) { (void)instance; (void)err; (void)len; return 0; }
__attribute__((unused)) static void stop_ok(void *instance) { (void)instance; }
__attribute__((unused)) static void destroy_ok(void *instance) { (void)instance; }

#if defined(BROKEN_UNRESOLVED)
extern int dcos_symbol_that_does_not_exist(void);
#endif

#if defined(BROKEN_NO_ENTRY)
__attribute__((visibility("default"))) int not_the_entry(void) { return 0; }
#else
__attribute__((visibility("default"))) const dcos_plugin_v1 *dcos_plugin_entry_v1(void) {
  static dcos_plugin_v1 d = {
      sizeof(dcos_plugin_v1), DCOS_ABI_MAJOR, DCOS_PLUGIN_MODULE, 0, PLUGIN_NAME, "0.0.1", "a broken plugin",
      create_ok, start_ok, stop_ok, destroy_ok, NULL};
#if defined(BROKEN_WRONG_ABI)
  d.abi_major = 99;
#elif defined(BROKEN_TOO_SMALL)
  d.struct_size = 16;
#elif defined(BROKEN_CREATE_FAILS)
  d.create = create_fails;
#elif defined(BROKEN_UNRESOLVED)
  d.reserved = (uint32_t)dcos_symbol_that_does_not_exist();
#elif defined(BROKEN_NO_CREATE)
  d.create = NULL;
#endif
  return &d;
}
#endif
