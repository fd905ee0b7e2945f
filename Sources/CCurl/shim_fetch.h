// Typed wrappers for libcurl's variadic setters used by ListgateMail's HTTPS GET
// (Sources/ListgateMail/Transport/CurlURLFetch.swift). shim.h includes this file; like
// shim.h, every wrapper fixes the argument type.
#ifndef LISTGATE_CCURL_SHIM_FETCH_H
#define LISTGATE_CCURL_SHIM_FETCH_H

#include <curl/curl.h>

/* CURLOPT_WRITEFUNCTION: the fetch keeps the body itself and stops past its size limit. */
static inline CURLcode listgate_easy_setopt_write_function(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

#endif
