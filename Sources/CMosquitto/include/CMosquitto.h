#ifndef CMosquitto_H
#define CMosquitto_H
#include <mosquitto.h>
#endif
