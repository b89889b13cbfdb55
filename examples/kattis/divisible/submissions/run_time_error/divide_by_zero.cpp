// divides by the count of numbers seen so far, starting at 0
#include <cstdio>
int main() {
    long long n, value, seen = 0;
    if (scanf("%lld", &n) != 1) return 1;
    volatile long long zero = seen;
    scanf("%lld", &value);
    printf("%lld\n", value / zero);
}
