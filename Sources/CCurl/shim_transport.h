// More typed wrappers for libcurl's variadic setters, used by ListgateMail's SMTP
// transport (Sources/ListgateMail/Transport/CurlSMTPTransport.swift).
// shim.h includes this file; like shim.h, every wrapper fixes the argument type.
#ifndef LISTGATE_CCURL_SHIM_TRANSPORT_H
#define LISTGATE_CCURL_SHIM_TRANSPORT_H

#include <curl/curl.h>

/* CURLOPT_DEBUGFUNCTION: the transport reads the server's reply lines
   (CURLINFO_HEADER_IN) through it, to put "550 5.1.1 no such user" in its errors. */
static inline CURLcode listgate_easy_setopt_debug_function(CURL *handle, curl_debug_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

/* curl_off_t options such as CURLOPT_INFILESIZE_LARGE (sent as the SMTP SIZE parameter). */
static inline CURLcode listgate_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/* CURLINFO_ACTIVESOCKET: after a failed transfer the transport shuts the socket down, so
   that libcurl drops the connection instead of reusing it or politely QUITting it. */
static inline CURLcode listgate_easy_getinfo_socket(CURL *handle, CURLINFO info, curl_socket_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

/* CURL_GLOBAL_DEFAULT is a macro expression Swift does not import. */
static inline CURLcode listgate_curl_global_init_default(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

#endif
