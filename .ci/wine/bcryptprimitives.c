#include <windows.h>
#include <ntsecapi.h>
/* Wine 8.0 lacks bcryptprimitives.dll; Rust's std (1.78+) takes its random
   bytes from ProcessPrng there. Same bytes, from RtlGenRandom. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return RtlGenRandom(data, (ULONG)len);
}
