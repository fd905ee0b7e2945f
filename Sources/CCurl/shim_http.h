// Typed wrappers for the libcurl setters that ListgateMail's webhook poster uses
// (Sources/ListgateMail/Webhooks/CurlWebhookPoster.swift). shim.h includes this file.
#ifndef LISTGATE_CCURL_SHIM_HTTP_H
#define LISTGATE_CCURL_SHIM_HTTP_H

#include <curl/curl.h>

/* CURLOPT_WRITEFUNCTION: a receiver's answer body is read and dropped (libcurl's default
   would write it to stdout). */
static inline CURLcode listgate_easy_setopt_write_function(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

#endif
