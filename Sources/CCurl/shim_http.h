// Typed wrappers for the libcurl calls that ListgateMail's webhook poster makes
// (Sources/ListgateMail/Webhooks/CurlWebhookPoster.swift). shim.h includes this file.
#ifndef LISTGATE_CCURL_SHIM_HTTP_H
#define LISTGATE_CCURL_SHIM_HTTP_H

#include <curl/curl.h>

/* CURLOPT_WRITEFUNCTION: a receiver's answer body is read and dropped (libcurl's default
   would write it to stdout). */
static inline CURLcode listgate_easy_setopt_write_function(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

/* curl_multi_setopt is variadic too: long options such as CURLMOPT_MAX_HOST_CONNECTIONS. */
static inline CURLMcode listgate_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

/* A finished transfer's result, out of CURLMsg's anonymous union. */
static inline CURLcode listgate_multi_message_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
