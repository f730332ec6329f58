// hiredis (Debian libhiredis-dev). Only the argv entry points are used from Swift (redisCommandArgv): the
// printf-style redisCommand is variadic and binary-unsafe.
#include <hiredis/hiredis.h>
