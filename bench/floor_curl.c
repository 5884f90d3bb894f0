/*
 * floor_curl: the least an HTTP client linked to libcurl can do for one call to a Consul agent:
 * one GET, the body discarded. bench/run times bsup's consul driver against it (and against the
 * curl command line, which adds its own option parsing and configuration files).
 *
 * Build:  cc -O2 -o floor_curl bench/floor_curl.c $(pkg-config --cflags --libs libcurl)
 * Usage:  floor_curl URL       exit 0 on any HTTP answer below 500, 3 otherwise
 */
#include <curl/curl.h>
#include <stdio.h>

static size_t discard(char* data, size_t size, size_t count, void* user) {
    (void)data;
    (void)user;
    return size * count;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fputs("usage: floor_curl URL\n", stderr);
        return 2;
    }
    CURL* curl = curl_easy_init();
    if (!curl) {
        return 3;
    }
    curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK) {
        fprintf(stderr, "floor_curl: %s\n", curl_easy_strerror(code));
    }
    curl_easy_cleanup(curl);
    return code == CURLE_OK && status < 500 ? 0 : 3;
}
