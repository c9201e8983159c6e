// listDevices(): the devices TensorFlow's eager runtime sees in this process, as
// [{ name, type, memoryBytes }]. tfjs-node's binding only says whether a GPU is in use; people
// choosing `--backend tensorflow` want to know which CPU/GPU devices TensorFlow found.
#include <node_api.h>
#include <stdio.h>
#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"

static napi_value throw_status(napi_env env, TF_Status* status) {
  char message[512];
  snprintf(message, sizeof message, "TensorFlow: %s", TF_Message(status));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value list_devices(napi_env env, napi_callback_info info) {
  (void)info;
  TF_Status* status = TF_NewStatus();
  TFE_ContextOptions* options = TFE_NewContextOptions();
  TFE_Context* context = TFE_NewContext(options, status);
  TFE_DeleteContextOptions(options);
  if (TF_GetCode(status) != TF_OK) {
    napi_value r = throw_status(env, status);
    TF_DeleteStatus(status);
    return r;
  }
  TF_DeviceList* devices = TFE_ContextListDevices(context, status);
  napi_value result = NULL;
  if (TF_GetCode(status) != TF_OK) {
    result = throw_status(env, status);
  } else {
    int count = TF_DeviceListCount(devices);
    napi_create_array_with_length(env, (size_t)count, &result);
    for (int i = 0; i < count; i++) {
      napi_value entry, name, type, memory;
      napi_create_object(env, &entry);
      napi_create_string_utf8(env, TF_DeviceListName(devices, i, status), NAPI_AUTO_LENGTH, &name);
      napi_create_string_utf8(env, TF_DeviceListType(devices, i, status), NAPI_AUTO_LENGTH, &type);
      napi_create_double(env, (double)TF_DeviceListMemoryBytes(devices, i, status), &memory);
      napi_set_named_property(env, entry, "name", name);
      napi_set_named_property(env, entry, "type", type);
      napi_set_named_property(env, entry, "memoryBytes", memory);
      napi_set_element(env, result, (uint32_t)i, entry);
    }
    TF_DeleteDeviceList(devices);
  }
  TFE_DeleteContext(context);
  TF_DeleteStatus(status);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, version;
  napi_create_function(env, "listDevices", NAPI_AUTO_LENGTH, list_devices, NULL, &fn);
  napi_set_named_property(env, exports, "listDevices", fn);
  napi_create_string_utf8(env, TF_Version(), NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "tensorflowVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
