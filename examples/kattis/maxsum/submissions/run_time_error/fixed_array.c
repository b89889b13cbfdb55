/* a fixed array of 2000 gains on the stack: writes past it on group 3 */
#include <stdio.h>
#include <string.h>
int main(void) {
    long long gains[2000];
    int n;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) scanf("%lld", &gains[i]);
    long long best = gains[0], current = 0;
    for (int i = 0; i < n; i++) {
        current = current + gains[i] > gains[i] ? current + gains[i] : gains[i];
        if (current > best) best = current;
    }
    printf("%lld\n", best);
    return 0;
}
