// Typed wrappers for libcurl's variadic setters, which Swift cannot call directly.
// Each wrapper fixes the argument type, so a wrong option/type pairing fails to compile
// instead of corrupting the call at run time.
#ifndef LISTGATE_CCURL_SHIM_H
#define LISTGATE_CCURL_SHIM_H

#include <curl/curl.h>
#include "shim_transport.h"
#include "shim_http.h"

static inline CURLcode listgate_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode listgate_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode listgate_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode listgate_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode listgate_easy_setopt_read_function(CURL *handle, curl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

static inline CURLcode listgate_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/* CURLVERSION_NOW is a macro alias Swift does not import. */
static inline curl_version_info_data *listgate_curl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}

#endif
