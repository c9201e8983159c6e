// Lets tsnas hold back what libtensorflow prints to file descriptor 2 while it loads: its static
// initialisers log "oneDNN custom operations are on" through absl before absl is initialised, so
// neither TF_CPP_MIN_LOG_LEVEL nor anything in JavaScript can stop it. JavaScript redirects fd 2 to
// a file around the load, then restores it and passes on every other line (see backend.ts).
// Built without libtensorflow, so loading it prints nothing.
#include <fcntl.h>
#include <node_api.h>
#include <unistd.h>

// redirect(path): fd 2 now writes to path (created or truncated); returns the saved descriptor.
static napi_value redirect_stderr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "redirect(path): path must be a string");
    return NULL;
  }
  int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (file < 0) {
    napi_throw_error(env, NULL, "redirect: cannot open the capture file");
    return NULL;
  }
  int saved = dup(2);
  if (saved < 0 || dup2(file, 2) < 0) {
    close(file);
    if (saved >= 0) close(saved);
    napi_throw_error(env, NULL, "redirect: dup/dup2 failed");
    return NULL;
  }
  close(file);
  napi_value result;
  napi_create_int32(env, saved, &result);
  return result;
}

// restore(saved): fd 2 writes where it did before redirect.
static napi_value restore_stderr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int saved = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &saved) != napi_ok || saved < 0) {
    napi_throw_type_error(env, NULL, "restore(saved): saved must be the descriptor redirect returned");
    return NULL;
  }
  dup2(saved, 2);
  close(saved);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "redirect", NAPI_AUTO_LENGTH, redirect_stderr, NULL, &fn);
  napi_set_named_property(env, exports, "redirect", fn);
  napi_create_function(env, "restore", NAPI_AUTO_LENGTH, restore_stderr, NULL, &fn);
  napi_set_named_property(env, exports, "restore", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
