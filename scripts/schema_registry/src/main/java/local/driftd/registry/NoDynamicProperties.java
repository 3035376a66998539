package local.driftd.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/**
 * The registry's list of properties editable at run time (its admin config API): none.
 *
 * <p>Apicurio's config-index extension builds this list at augmentation time, but its
 * deployment artifact is not on Maven Central, so the extension is left out (pom.xml).
 * Every property then keeps the value it was started with, which is all tests need.
 */
public class NoDynamicProperties {

    @Produces
    @Singleton
    DynamicConfigPropertyList dynamicConfigProperties() {
        return new DynamicConfigPropertyList(List.of());
    }
}
