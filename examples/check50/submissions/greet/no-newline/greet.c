#include <stdio.h>
#include <string.h>

int main(void)
{
    char name[100];
    do
    {
        printf("What is your name? ");
        fflush(stdout);
        if (fgets(name, sizeof name, stdin) == NULL)
        {
            return 1;
        }
        name[strcspn(name, "\n")] = '\0';
    }
    while (strlen(name) == 0);
    printf("hello, %s", name);
    return 0;
}
