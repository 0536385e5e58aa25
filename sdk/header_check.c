#include <dcos/plugin.h>
